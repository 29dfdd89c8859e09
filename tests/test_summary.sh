#!/usr/bin/env bash
# The summary at exit and the stats JSON of the same run: the fault line's parts add up
# to its total, every count the summary prints equals the JSON's, a ratio without a
# denominator is "n/a" (JSON null), and the definitions (farsight settings --stats)
# name every JSON key.  Runs sort on a file larger than the budget with readahead
# (prefetched pages mapped on first touch), hermit (mapped on arrival) and none.
set -u
BIN=${FARSIGHT_BIN:-build/farsight}
fail=0
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
case "${BUILD:-build}" in *san*) echo "skip: preloading a sanitizer build into other programs is not supported"; exit 0 ;; esac
ok() { echo "ok   $1"; }
bad() { echo "FAIL: $1"; fail=1; }
json() { sed -n "s/.*\"$2\": \(null\|[0-9.e+-]*\).*/\1/p" "$1"; }

seq 1 100000 | awk '{print ($1 * 7919) % 100003}' > "$tmp/in"
for pf in readahead hermit none; do
	# readahead with pages mapped on first touch (their hits are seen), hermit mapped
	# on arrival (the default, prefetch_map direct)
	map=direct; [ $pf = readahead ] && map=fault
	"$BIN" run --local-mem 512K --prefetch $pf --prefetch-map $map --stats-json "$tmp/$pf.json" -- sort -n "$tmp/in" >/dev/null 2>"$tmp/$pf.err" ||
		{ bad "$pf: run failed: $(tail -3 "$tmp/$pf.err")"; continue; }
	line=$(grep 'farsight:   faults ' "$tmp/$pf.err")
	# "faults N = a demand fetches + b prefetch hits + ... + f other faults"
	total=$(sed -n 's/.*faults \([0-9]*\) = .*/\1/p' <<<"$line")
	sum=$(sed 's/.* = //' <<<"$line" | tr '+' '\n' | awk '{ s += $1 } END { print s }')
	[ -n "$total" ] && [ "$total" = "$sum" ] && ok "$pf: the fault parts add up ($total = $sum)" ||
		bad "$pf: faults $total but the parts sum to $sum: $line"
	[ "$total" = "$(json "$tmp/$pf.json" faults)" ] && ok "$pf: faults equal the JSON's" ||
		bad "$pf: summary faults $total, JSON $(json "$tmp/$pf.json" faults)"
	# every "N words" part and item of the count lines against its JSON key
	for kw in "demand fetches:demand_fetches" "prefetch hits:prefetch_hits" "zero fills:zero_fills" \
		"reactivations:reactivations" "wp faults:wp_faults" "other faults:other_faults" \
		"late hits:late_hits" "promoted:promotions" "mapped on arrival:prefetches_mapped" "wasted prefetches:wasted_prefetches" \
		"evictions:evictions" "writebacks:writebacks"; do
		words=${kw%%:*} key=${kw#*:}
		have=$(grep -o "[0-9]* $words" "$tmp/$pf.err" | head -1 | cut -d' ' -f1)
		want=$(json "$tmp/$pf.json" "$key")
		[ -n "$have" ] && [ "$have" = "$want" ] || bad "$pf: summary '$words' $have, JSON $key $want"
	done
	issued=$(sed -n 's/.*prefetches issued \([0-9]*\).*/\1/p' "$tmp/$pf.err")
	[ "$issued" = "$(json "$tmp/$pf.json" prefetches_issued)" ] || bad "$pf: prefetches issued $issued vs JSON"
	grep -q 'peak RSS of the whole process [0-9.]* [KMG]iB' "$tmp/$pf.err" && [ "$(json "$tmp/$pf.json" maxrss_bytes)" -gt 0 ] &&
		ok "$pf: the whole process's peak RSS beside the budget" || bad "$pf: no peak RSS: $(head -2 "$tmp/$pf.err")"
done
# a ratio without a denominator: none issues no prefetch
grep -q 'accuracy n/a' "$tmp/none.err" && [ "$(json "$tmp/none.json" accuracy)" = null ] &&
	ok "none: accuracy n/a (JSON null)" || bad "none: accuracy: $(grep -o 'accuracy [^,]*' "$tmp/none.err"), JSON $(json "$tmp/none.json" accuracy)"
# hermit maps prefetched pages on arrival: they are said to be, and not called waste
mapped=$(json "$tmp/hermit.json" prefetches_mapped)
[ "${mapped:-0}" -gt 0 ] && grep -q "$mapped mapped on arrival" "$tmp/hermit.err" &&
	ok "hermit: $mapped pages mapped on arrival, shown" || bad "hermit: prefetches_mapped $mapped"
# the definitions cover every JSON key (the top level: backend_stats holds the
# backend's own counters, defined in docs/BACKENDS.md)
defs=$("$BIN" settings --stats)
for k in $(grep -o '^  "[a-z_0-9]*":' "$tmp/readahead.json" | tr -d '": ' | grep -v '^prefetch$\|^backend$'); do
	grep -q "^$k " <<<"$defs" || bad "JSON key $k has no definition in farsight settings --stats"
done
ok "every JSON key is defined by farsight settings --stats"
exit $fail
