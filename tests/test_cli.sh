#!/usr/bin/env bash
# farsight run's command line: bad input gets a one-line message naming the value and
# exit status 2; the program's exit status and signals are passed through; --record
# writes a trace that `trace info` accepts, and a damaged one is refused.
set -u
. "$(dirname "$0")/expect.sh"
expect_error 2 "0 bytes is too small; use at least 64K" -- run --local-mem 0 -- true
expect_error 2 "'-5M' is not a size" -- run --local-mem -5M -- true
expect_error 2 "'lots' is not a size" -- run --local-mem lots -- true
expect_error 2 "'magic' is not one of none, readahead, leap, hermit, oracle or farsight" -- run --prefetch magic -- true
expect_error 2 "unknown backend 'rdma://x'" -- run --backend rdma://x -- true
expect_error 2 "no program given" -- run --local-mem 1M
expect_error 2 "unknown option '--bogus'" -- run --bogus 1 -- true
expect_error 2 "needs a value" -- run --local-mem
out=$(FARSIGHT_LOCAL_MEM=x "$BIN" run -- true 2>&1); s=$?
if [ $s -eq 2 ] && grep -q "FARSIGHT_LOCAL_MEM: 'x' is not a size" <<<"$out"; then echo "ok   bad environment value -> 2"; else echo "FAIL: bad env value: $s $out"; fail=1; fi
expect_error 127 "cannot run /nonexistent" -- run --quiet -- /nonexistent

# exit status and signals pass through
"$BIN" run --quiet --local-mem 1M -- sh -c 'exit 7'; s=$?
[ $s -eq 7 ] && echo "ok   exit status 7 passed through" || { echo "FAIL: exit status $s, wanted 7"; fail=1; }
"$BIN" run --quiet --local-mem 1M -- sh -c 'kill -TERM $$' 2>/dev/null; s=$?
[ $s -eq 143 ] && echo "ok   SIGTERM -> 143" || { echo "FAIL: killed program gave $s, wanted 143"; fail=1; }

# the summary and the JSON: sort a file bigger than local memory, output unchanged
seq 1 100000 | awk '{print ($1 * 7919) % 100003}' > "$tmp/in"
sort -n "$tmp/in" > "$tmp/want"
"$BIN" run --local-mem 512K --stats-json "$tmp/s.json" --record "$tmp/t.fst" -- sort -n "$tmp/in" > "$tmp/got" 2> "$tmp/err"; s=$?
if [ $s -eq 0 ] && cmp -s "$tmp/want" "$tmp/got"; then echo "ok   sort output identical under far memory"; else echo "FAIL: sort under farsight: status $s"; fail=1; fi
grep -q "farsight:   faults" "$tmp/err" && echo "ok   summary printed" || { echo "FAIL: no summary on stderr"; cat "$tmp/err"; fail=1; }
for k in faults demand_fetches prefetches_issued prefetch_hits late_hits wasted_prefetches accuracy coverage local_mem_budget_bytes local_mem_peak_bytes far_bytes_read far_bytes_written fetch_latency_us_p50 fetch_latency_us_p99; do
	grep -q "\"$k\":" "$tmp/s.json" || { echo "FAIL: stats JSON lacks $k"; fail=1; }
done
budget=$(sed -n 's/.*"local_mem_budget_bytes": \([0-9]*\).*/\1/p' "$tmp/s.json")
peak=$(sed -n 's/.*"local_mem_peak_bytes": \([0-9]*\).*/\1/p' "$tmp/s.json")
demand=$(sed -n 's/.*"demand_fetches": \([0-9]*\).*/\1/p' "$tmp/s.json")
if [ "$budget" = 524288 ] && [ "$peak" -le "$budget" ] && [ "$demand" -gt 0 ]; then
	echo "ok   budget $budget held (peak $peak), $demand demand fetches"
else echo "FAIL: budget $budget peak $peak demand $demand"; fail=1; fi

# the trace: accepted, and refused when damaged or cut short
info=$("$BIN" trace info "$tmp/t.fst" --json); s=$?
events=$(sed -n 's/.*"events": \([0-9]*\).*/\1/p' <<<"$info")
misses=$(sed -n 's/.*"misses": \([0-9]*\).*/\1/p' <<<"$info")
if [ $s -eq 0 ] && [ "$misses" = "$demand" ] && [ "$events" -ge "$misses" ]; then echo "ok   trace holds $events events, $misses misses = demand fetches"
else echo "FAIL: trace info: status $s, $info (demand $demand)"; fail=1; fi
"$BIN" trace info "$tmp/t.fst" | grep -q "sort -n" && echo "ok   trace names the program" || { echo "FAIL: trace does not name the program"; fail=1; }
head -c 5000 "$tmp/t.fst" > "$tmp/cut.fst"
expect_error 1 "truncated" -- trace info "$tmp/cut.fst"
cp "$tmp/t.fst" "$tmp/bad.fst"; printf '\x55' | dd of="$tmp/bad.fst" bs=1 seek=2000 conv=notrunc 2>/dev/null
expect_error 1 "checksum mismatch" -- trace info "$tmp/bad.fst"
echo "garbage" > "$tmp/junk.fst"
expect_error 1 "not a farsight trace" -- trace info "$tmp/junk.fst"

# bench: a prefetcher entry may carry settings (POLICY+SETTING=VALUE), checked up front
expect_error 2 "not 'nosuch=1'" -- bench --prefetch farsight+nosuch=1 --out "$tmp/b" --dry-run
expect_error 2 "'abc' is not a non-negative number" -- bench --prefetch farsight+min_prob=abc --out "$tmp/b" --dry-run
expect_error 2 "unknown prefetcher 'magic'" -- bench --prefetch magic+min_prob=1 --out "$tmp/b" --dry-run
plan=$("$BIN" bench --workloads mcf --ratios 30 --prefetch farsight,farsight+prefetch_map=fault+min_prob=0.2 \
	--models models --reps 1 --size tiny --dry-run --out "$tmp/b" 2>&1)
if grep -q -- "--prefetch farsight --prefetch-map fault --min-prob 0.2 --stats-json" <<<"$plan" &&
   [ "$(grep -c -- "--prefetch farsight --stats-json" <<<"$plan")" = 1 ]; then
	echo "ok   bench variant farsight+prefetch_map=fault+min_prob=0.2 runs farsight with those flags"
else echo "FAIL: bench variant plan: $(grep -- '--prefetch farsight' <<<"$plan")"; fail=1; fi
plan=$("$BIN" bench --workloads mcf,sssp --ratios 30 --prefetch farsight --models models/default.fsm \
	--reps 1 --size tiny --dry-run --out "$tmp/b" 2>&1)
if [ "$(grep -c -- "--model models/default.fsm --" <<<"$plan")" = 2 ]; then
	echo "ok   bench --models FILE gives every workload that model"
else echo "FAIL: bench --models FILE: $(grep -- '--prefetch farsight' <<<"$plan")"; fail=1; fi
exit $fail
