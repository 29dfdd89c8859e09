#!/usr/bin/env bash
# test_backends_run.sh - whole programs under `farsight run` on the zmem and redis
# backends with 1 MiB of local memory: sort's output equals plain sort's on zmem (lz4
# and zstd) and on a pool of two redis servers with replicas=1 while one of them is
# killed mid-run (the summary shows the loss); with replicas=0 a killed server stops
# the program with exit status 70 and a message naming it, never with wrong output.
set -u
source "$(dirname "$0")/lib.sh"
BIN=$FARSIGHT_BIN
CHURN="$BUILD/tests/memd_churn"
test_setup backends-run

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
start_redis() { # sets port and rpid
	port=$(free_port)
	redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no \
		--maxmemory-policy noeviction --dir "$tmp" --logfile "$tmp/redis-$port.log" &
	rpid=$!; pids+=("$rpid")
	for _ in $(seq 300); do redis-cli -p "$port" ping >/dev/null 2>&1 && return 0; sleep 0.01; done
	echo "FAIL cannot start redis-server on port $port (tools/install-deps.sh installs it)"; exit 1
}

# 40000 lines (1.1 MiB): with 1 MiB of local memory nearly every touch of sort's heap
# goes to far memory (~40k demand fetches without prefetching, ~5 s on redis here).
awk 'BEGIN { srand(11); for (i = 0; i < 40000; i++) printf "%08d line %d\n", int(rand() * 1e8), i }' \
	>"$tmp/in.txt"
sort "$tmp/in.txt" >"$tmp/local.txt"

# 1. zmem, both compressors.
for be in zmem "zmem?compressor=zstd"; do
	timeout 120 "$BIN" run --backend "$be" --local-mem 1M --stats-json "$tmp/z.json" -- \
		sort "$tmp/in.txt" >"$tmp/far.txt" 2>"$tmp/z.err"
	rc=$?
	check '[ $rc -eq 0 ] && cmp -s "$tmp/far.txt" "$tmp/local.txt"' "sort on $be: exit 0, output equals plain sort's"
	check 'grep -q "\"backend_stats\"" "$tmp/z.json" && grep -q "\"compression_ratio\": [1-9]" "$tmp/z.json"' \
		"$be: the stats JSON has the store's compression ratio"
done

# 2. redis pool, replicas=1, one server killed mid-run: the same output, the loss shown.
start_redis; p1=$port; r1=$rpid
start_redis; p2=$port; r2=$rpid
# --prefetch none: every touch a demand fetch, so the run is still going when the
# server dies (with prefetching it can be over in 0.2 s).
timeout 120 "$BIN" run --backend "redis://127.0.0.1:$p1,127.0.0.1:$p2?replicas=1" --local-mem 1M \
	--prefetch none --stats-json "$tmp/r.json" -- sort "$tmp/in.txt" >"$tmp/far.txt" 2>"$tmp/r.err" &
spid=$!; pids+=("$spid")
for _ in $(seq 500); do [ "$(redis-cli -p "$p2" dbsize 2>/dev/null)" -gt 200 ] 2>/dev/null && break; sleep 0.01; done
kill -9 "$r2"; wait "$r2" 2>/dev/null
wait "$spid"; rc=$?
check '[ $rc -eq 0 ] && cmp -s "$tmp/far.txt" "$tmp/local.txt"' \
	"sort on redis with replicas=1, a server killed mid-run: exit 0 ($rc), output equals plain sort's"
check 'grep -q "lost the server 127.0.0.1:$p2" "$tmp/r.err"' "the loss is reported when it happens"
check 'grep -q "\"backend_stats.servers_lost\"\|\"servers_lost\": 1" "$tmp/r.json"' "the stats count the lost server"
for _ in $(seq 300); do [ "$(redis-cli -p "$p1" dbsize)" = 0 ] && break; sleep 0.01; done
check '[ "$(redis-cli -p "$p1" dbsize)" = 0 ]' "the run's keys are deleted after it exits"

# 3. replicas=0: a killed server stops the program with exit 70 and a sentence.
start_redis; p3=$port; r3=$rpid
timeout 120 "$BIN" run --backend "redis://127.0.0.1:$p1,127.0.0.1:$p3" --local-mem 1M -- "$CHURN" 30 \
	>"$tmp/churn.out" 2>"$tmp/churn.err" &
cpid=$!; pids+=("$cpid")
for _ in $(seq 500); do [ "$(redis-cli -p "$p3" dbsize 2>/dev/null)" -gt 500 ] 2>/dev/null && break; sleep 0.01; done
kill -9 "$r3"; wait "$r3" 2>/dev/null
wait "$cpid"; rc=$?
check '[ $rc -eq 70 ]' "redis with replicas=0, a server killed: exit status 70 ($rc)"
check 'grep -q "lost the server 127.0.0.1:$p3.*with replicas=0 the pages it held are gone" "$tmp/churn.err"' \
	"the message names the server and says why the program stops"
check '! grep -q checksum "$tmp/churn.out"' "the program did not finish with wrong data"

# 4. A server that may evict is refused before the program starts.
redis-cli -p "$p1" config set maxmemory-policy allkeys-lru >/dev/null
"$BIN" run --backend "redis://127.0.0.1:$p1" --local-mem 1M -- true 2>"$tmp/lru.err"
rc=$?
check '[ $rc -ne 0 ] && grep -q "maxmemory-policy allkeys-lru" "$tmp/lru.err"' \
	"a server with maxmemory-policy allkeys-lru is refused (exit $rc)"
[ $fail -ne 0 ] && for f in z.err r.err churn.err lru.err; do echo "--- $f"; cat "$tmp/$f" 2>/dev/null; done
exit $fail
