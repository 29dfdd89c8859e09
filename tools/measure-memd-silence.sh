#!/usr/bin/env bash
# The measurement behind backend_timeout_ms's default (docs/TUNING.md section 6): the
# longest time memd stays silent towards a tcp backend that waits for it, over a few
# programs alone and three at once on one memd.  The backend logs each new longest
# silence under FARSIGHT_DEBUG=1; this prints the last (largest) per run and connection.
#   tools/measure-memd-silence.sh            (after make; ~1 min)
set -u
cd "$(dirname "$0")/.."
B=${FARSIGHT_BIN:-build/farsight}
W=${BUILD:-build}/farsight-workloads
tmp=$(mktemp -d /tmp/fs-silence.XXXXXX)
trap 'kill "$M" 2>/dev/null; rm -rf "$tmp"' EXIT
"$B" memd --listen 127.0.0.1:0 --port-file "$tmp/port" 2>"$tmp/memd.log" &
M=$!
for _ in $(seq 100); do [ -s "$tmp/port" ] && break; sleep 0.05; done
port=$(cat "$tmp/port")
awk 'BEGIN { srand(7); for (i = 0; i < 150000; i++) printf "%08d line %d\n", int(rand() * 1e8), i }' >"$tmp/in.txt"
one() { # label, then farsight run arguments
	local l=$1; shift
	FARSIGHT_DEBUG=1 FARSIGHT_BACKEND_TIMEOUT_MS=0 "$B" run --backend "tcp://127.0.0.1:$port" "$@" \
		2>&1 >/dev/null | grep "longest silence" | sed 's/.* on the \([a-z]*\) connection so far: \([0-9]*\) us/\1 \2/' |
		awk -v l="$l" '{ m[$1] = $2 } END { printf "%-28s bulk %8.1f ms  demand %8.1f ms (0 = under 1 ms)\n", l, m["bulk"] / 1000, m["demand"] / 1000 }'
}
one "pagerank tiny 2M" --local-mem 2M -- "$W" pagerank --size tiny
one "mcf tiny 2M leap" --local-mem 2M --prefetch leap -- "$W" mcf --size tiny
one "xgboost tiny 8M" --local-mem 8M -- "$W" xgboost --size tiny
one "sort 150k lines 1M" --local-mem 1M -- sort "$tmp/in.txt"
one "churn 5 s 1M" --local-mem 1M -- "${BUILD:-build}/tests/memd_churn" 5
one "3 at once: churn A" --local-mem 1M -- "${BUILD:-build}/tests/memd_churn" 5 &
one "3 at once: churn B" --local-mem 1M -- "${BUILD:-build}/tests/memd_churn" 5 &
one "3 at once: pagerank" --local-mem 2M -- "$W" pagerank --size tiny &
wait $(jobs -p | grep -vx "$M")
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
