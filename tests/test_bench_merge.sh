#!/usr/bin/env bash
# farsight bench --merge: the results.csv of several benches (one per vCPU, or more
# repetitions run later) become one results.csv, report.md and plots.  Checks the
# renumbered repetitions, the medians over the pooled runs, ratios in order, a quoted
# field that survives the round trip, and the refusals (not a results.csv, a damaged
# row, other inputs, other options).
set -u
BIN=${FARSIGHT_BIN:-build/farsight}
fail=0
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
ok() { echo "ok   $1"; }
bad() { echo "FAIL: $1"; fail=1; }

H='workload,size,kind,ratio,prefetch,rep,budget_bytes,seconds,wall_seconds,normalised,status,checksum,checksum_ok,backend,demand_fetches'
mkdir -p "$tmp/a" "$tmp/b"
cat >"$tmp/a/results.csv" <<CSV
$H
mcf,small,plain,0,,1,0,2.0000,2.1000,,0,abc,1,,
mcf,small,all-local-farsight,0,none,1,0,2.2000,2.3000,0.9091,0,abc,1,mem,0
mcf,small,far,50,readahead,1,100,4.0000,4.1000,0.5000,0,abc,1,mem,10
mcf,small,far,50,farsight,1,100,3.0000,3.1000,0.6667,0,abc,1,"tcp://x,""y""",7
CSV
cat >"$tmp/b/results.csv" <<CSV
$H
mcf,small,plain,0,,1,0,2.0000,2.0000,,0,abc,1,,
mcf,small,far,30,readahead,1,60,9.0000,9.1000,0.2222,0,abc,1,mem,50
mcf,small,far,50,readahead,1,100,5.0000,5.1000,0.4000,0,abc,1,mem,20
mcf,small,far,50,readahead,2,100,6.0000,6.1000,0.3333,0,abc,1,mem,30
CSV
"$BIN" bench --merge "$tmp/a,$tmp/b" --out "$tmp/m" 2>"$tmp/err"; s=$?
[ $s = 0 ] && ok "merge exits 0" || bad "merge exit $s: $(cat "$tmp/err")"
reps=$(awk -F, '$3 == "far" && $4 == 50 && $5 == "readahead" { printf "%s:%s ", $6, $8 }' "$tmp/m/results.csv")
[ "$reps" = "1:4.0000 2:5.0000 3:6.0000 " ] && ok "repetitions numbered on across files ($reps)" ||
	bad "readahead 50% rows: '$reps', wanted 1:4 2:5 3:6"
plains=$(awk -F, '$3 == "plain" { printf "%s ", $6 }' "$tmp/m/results.csv")
[ "$plains" = "1 2 " ] && ok "plain runs of both files kept ($plains)" || bad "plain reps '$plains'"
grep -q '"tcp://x,""y"""' "$tmp/m/results.csv" && ok "a quoted field survives" || bad "quoted field lost: $(grep farsight "$tmp/m/results.csv")"
# median of 4, 5, 6 = 5 s; plain median 2 s: normalised 0.400; 30% before 50%
grep -q '| 50% | readahead | 0.400 | 5.00 s | .* | 20 | 3 |' "$tmp/m/report.md" &&
	ok "report: the median over the pooled runs" || bad "report row: $(grep '| 50% | readahead' "$tmp/m/report.md")"
# none ran all-local only: a baseline, not a column
grep -q '^| local mem | readahead | farsight |$' "$tmp/m/report.md" && ok "columns: the far runs' prefetchers" ||
	bad "columns: $(grep '^| local mem |' "$tmp/m/report.md" | head -1)"
first=$(grep -o '^| [0-9]*% |' "$tmp/m/report.md" | head -1)
[ "$first" = "| 30% |" ] && ok "ratios ascending" || bad "first ratio row '$first'"
grep -q 'Merged (`farsight bench --merge`)' "$tmp/m/report.md" && ok "report says it is merged" || bad "no merge note"
# The report opens with its conclusion: at 50% farsight (3 s) beats readahead (median 5 s),
# plain 2 s; the rows show the spread behind each median; the plot has the all-local line.
concl=$(grep -n '^- mcf at 50% local memory: fastest \*\*farsight\*\*, normalised 0.667 (1.5x slower than all-local); slowest readahead, 0.400.$' "$tmp/m/report.md" | cut -d: -f1)
mach=$(grep -n '^Machine:' "$tmp/m/report.md" | cut -d: -f1)
[ -n "$concl" ] && [ -n "$mach" ] && [ "$concl" -lt "$mach" ] && ok "report opens with the conclusion (line $concl)" ||
	bad "conclusion: $(grep -A3 '^## Conclusion' "$tmp/m/report.md")"
grep -q '| 50% | readahead | 0.400 | 5.00 s | 4.00-6.00 s |' "$tmp/m/report.md" && ok "time min-max beside the median" ||
	bad "spread: $(grep '| 50% | readahead' "$tmp/m/report.md" | tail -1)"
grep -q "all local (1.0)" "$tmp/m/mcf.gp" && grep -q "higher is better" "$tmp/m/mcf.gp" &&
	ok "plot: the all-local line, higher is better" || bad "plot script: $(grep plot "$tmp/m/mcf.gp")"
grep -q "up to 3 repetitions" "$tmp/err" && ok "summary line" || bad "summary: $(cat "$tmp/err")"
# A merged folder merges again, unchanged.
"$BIN" bench --merge "$tmp/m" --out "$tmp/m2" 2>/dev/null && cmp -s "$tmp/m/results.csv" "$tmp/m2/results.csv" &&
	ok "a merge of one file reproduces it" || bad "re-merge differs"

# expect STATUS PATTERN DIRS [EXTRA...]: refused with a one-line message
expect() {
	local want=$1 pat=$2 dirs=$3; shift 3
	local out s
	out=$("$BIN" bench --merge "$dirs" --out "$tmp/x" "$@" 2>&1 >/dev/null); s=$?
	if [ "$s" = "$want" ] && grep -q -- "$pat" <<<"$out" && [ "$(wc -l <<<"$out")" = 1 ]; then
		ok "refused ($s): $out"
	else
		bad "merge $dirs $*: status $s, '$out' (wanted $want, /$pat/)"
	fi
}
mkdir -p "$tmp/c" "$tmp/d" "$tmp/e" "$tmp/f"
printf 'a,b,c\n1,2,3\n' >"$tmp/c/results.csv"
expect 1 "column 1 is 'a', not 'workload'" "$tmp/c"
{ echo "$H"; echo "mcf,small,far,50,readahead,1,100,4.0"; } >"$tmp/d/results.csv"
expect 1 "results.csv:2: 8 fields where the header has 15" "$tmp/d"
sed 's/,abc,/,def,/' "$tmp/b/results.csv" >"$tmp/e/results.csv"
expect 1 "all-local checksum def differs from abc" "$tmp/a,$tmp/e"
sed 's/,small,/,full,/' "$tmp/b/results.csv" >"$tmp/f/results.csv"
expect 1 "size full where the files before had small" "$tmp/a,$tmp/f"
expect 1 "cannot read $tmp/nope/results.csv" "$tmp/a,$tmp/nope"
expect 2 "takes only --out" "$tmp/a" --reps 3
[ ! -e "$tmp/x" ] && ok "nothing written when refused" || bad "refused merge wrote $tmp/x"
exit $fail
