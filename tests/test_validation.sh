#!/usr/bin/env bash
# Every refusal of a bad setting is a usage error: exit status 2 and one line that
# names the value and the accepted forms.  Ranges (probabilities, depths, counts),
# enum values, sizes against the arena and this machine's RAM, ports, a --model that
# the chosen prefetcher would ignore, a percentage budget that cannot be measured,
# memd's --listen port, bench's options.
set -u
. "$(dirname "$0")/expect.sh"
refused() { expect_error 2 "$@"; } # refused PATTERN -- ARGS: status 2, one line
ram_g=$(( $(getconf _PHYS_PAGES) * $(getconf PAGE_SIZE) / 1073741824 + 1 ))
refused "--min-prob: '2' is out of range; use a number from 0 to 1" -- run --min-prob 2 -- true
refused "--chain-depth: '8' is out of range; use a whole number from 0 to 7" -- run --chain-depth 8 -- true
refused "--candidates: '0' is out of range; use a whole number from 1 to 32" -- run --candidates 0 -- true
refused "--model-lookahead: '99' is out of range" -- run --model-lookahead 99 -- true
refused "--mem-latency-us: '-1' is not a non-negative number" -- run --mem-latency-us -1 -- true
refused "--pager-cpu: '-2' is out of range; use a whole number from -1 to 1023" -- run --pager-cpu -2 -- true
refused "--pager-cpu: 999 is not a CPU of this machine" -- run --pager-cpu 999 -- true
refused "--reclaim: 'lru' is not one of clock or fifo" -- run --reclaim lru -- true
refused "--prefetch-map: 'always' is not one of direct, fault or auto" -- run --prefetch-map always -- true
refused "--fallback: 'oracle' is not one of none, readahead or leap" -- run --fallback oracle -- true
refused "--cpus: '0-x' is not auto, all, or a CPU list" -- run --cpus 0-x -- true
refused "--local-mem: 64 bytes is too small; use at least 64K" -- run --local-mem 64 -- true
refused "--local-mem: 64.0T is more than the far-memory arena (arena_size 64.0G)" -- run --local-mem 64T -- true
refused "--local-mem: ${ram_g}.0G is more than this machine's RAM" -- run --local-mem ${ram_g}G --arena-size 1T -- true
refused "--arena-size: .* is not a multiple of 4K from 1M to 64T" -- run --arena-size 100T -- true
refused "--free-low: 200 must be below free_high_pages (128)" -- run --free-low 200 -- true
refused "--backend: backend 'tcp://127.0.0.1:99999' is not tcp://HOST:PORT with a port from 1 to 65535" -- run --backend tcp://127.0.0.1:99999 -- true
refused "--backend: unknown backend 'rdma://x'; use mem, zmem" -- run --backend rdma://x -- true
refused "--backend: backend 'redis://a:99999': 'a:99999' is not HOST:PORT" -- run --backend redis://a:99999 -- true
refused "--backend: backend 'zmem?compressor=gzip': unknown option" -- run --backend 'zmem?compressor=gzip' -- true
refused "--backend-timeout-ms: '100000000' is out of range; use a whole number from 0 to 86400000" -- run --backend-timeout-ms 100000000 -- true
refused "--model models/default.fsm is read only by --prefetch farsight (the prefetcher is leap)" -- run --prefetch leap --model models/default.fsm -- true
refused "--local-mem: '150%' is not a percentage from 0.1% to 100%" -- run --local-mem 150% -- true
# the environment: checked by farsight run before the program starts
out=$(FARSIGHT_MIN_PROB=1.5 "$BIN" run -- true 2>&1); s=$?
[ $s = 2 ] && grep -q "FARSIGHT_MIN_PROB: '1.5' is out of range; use a number from 0 to 1" <<<"$out" &&
	echo "ok   FARSIGHT_MIN_PROB=1.5 -> 2: $out" || { echo "FAIL: env min_prob: $s $out"; fail=1; }
# a percentage needs a first run; a pipe cannot be read twice
out=$(echo 1 | "$BIN" run --local-mem 50% -- cat 2>&1 >/dev/null); s=$?
[ $s = 2 ] && grep -q "standard input (a pipe) cannot be read twice" <<<"$out" && [ "$(wc -l <<<"$out")" = 1 ] &&
	echo "ok   --local-mem 50% with a pipe -> 2: $out" || { echo "FAIL: percentage with a pipe: $s $out"; fail=1; }
# ... and with a file it measures the footprint, then runs with that share
seq 1 100000 > "$tmp/in"
"$BIN" run --local-mem 50% --stats-json "$tmp/p.json" -- sort -n "$tmp/in" > "$tmp/out" 2> "$tmp/err" </dev/null; s=$?
foot=$(sed -n 's/.*footprint \([0-9.]*\) MiB.* a budget of \([0-9.]*\) MiB.*/\1 \2/p' "$tmp/err")
budget=$(sed -n 's/.*"local_mem_budget_bytes": \([0-9]*\).*/\1/p' "$tmp/p.json")
if [ $s = 0 ] && cmp -s "$tmp/out" <(sort -n "$tmp/in") && [ -n "$foot" ] &&
	awk -v f="${foot% *}" -v b="$budget" 'BEGIN { exit !(b > 0.45 * f * 1048576 && b < 0.55 * f * 1048576 + 65536) }'; then
	echo "ok   --local-mem 50%: footprint and budget ($foot MiB; budget $budget bytes)"
else echo "FAIL: --local-mem 50%: status $s, '$foot', budget $budget: $(cat "$tmp/err" | head -3)"; fail=1; fi
# memd: a port out of range is refused, not wrapped
refused "--listen '127.0.0.1:99999' is not HOST:PORT with a port from 0 to 65535" -- memd --listen 127.0.0.1:99999
# bench
refused "bench: --reps wants 1..100, not '0'" -- bench --reps 0 --out "$tmp/b"
refused "bench: a ratio is a percent from 1 to 100, not '0'" -- bench --ratios 0 --out "$tmp/b"
exit $fail
