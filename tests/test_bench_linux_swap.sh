#!/usr/bin/env bash
# test_bench_linux_swap.sh - `farsight bench --prefetch none,linux-swap`: the kernel
# baseline runs next to the farsight runs (a `far` row with prefetch linux-swap,
# checksum_ok=1 and a numeric demand_fetches in results.csv) where root and a cgroup
# v1 memory controller are available; otherwise the report says it was skipped and the
# bench does not fail.  The skip path is also checked everywhere with a stub script
# (FARSIGHT_LINUX_SWAP_SCRIPT) that exits 3, and a missing script is a clear error.
# Nothing is left behind: no swap device, no farsight-swap cgroup.
set -u
. "$(dirname "$0")/lib.sh"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
check() { if eval "$1"; then echo "ok   $2"; else echo "FAIL $2 ($1)"; fails=$((fails+1)); fi; }
# column NAME of the far/linux-swap row of a results.csv
col() {
	awk -F, -v want="$2" 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next }
		$3 == "far" && $5 == "linux-swap" { print $(c[want]); exit }' "$1"
}

bench() { "$FARSIGHT_BIN" bench --workloads pagerank --size tiny --ratios 50 --prefetch none,linux-swap \
	--reps 1 --timeout 120 --out "$@"; }

# 1. the real thing
bench "$tmp/real" >"$tmp/real.stdout" 2>"$tmp/real.stderr"
rc=$?
if grep -q "skipping the linux-swap baseline" "$tmp/real.stderr"; then
	echo "note: linux-swap unavailable here: $(grep -m1 'skipping the linux-swap' "$tmp/real.stderr")"
	check '[ $rc = 0 ]' "a skipped linux-swap is not a failure (exit $rc)"
	check 'grep -q "linux-swap skipped" "$tmp/real/report.md"' "report.md says linux-swap was skipped"
	check '[ -z "$(col "$tmp/real/results.csv" kind)" ]' "no linux-swap row in results.csv"
else
	check '[ $rc = 0 ]' "bench with linux-swap succeeds (exit $rc)"
	check '[ "$(col "$tmp/real/results.csv" checksum_ok)" = 1 ]' "linux-swap row has checksum_ok=1"
	dem=$(col "$tmp/real/results.csv" demand_fetches)
	check '[[ "$dem" =~ ^[0-9]+$ ]]' "linux-swap row has a numeric demand_fetches ($dem)"
	lim=$(col "$tmp/real/results.csv" local_mem_budget_bytes)
	bud=$(col "$tmp/real/results.csv" budget_bytes)
	check '[[ "$lim" =~ ^[0-9]+$ ]] && [ "$lim" -ge "$bud" ]' "the cgroup limit ($lim) is at least the budget ($bud)"
	check 'grep -q "kernel baseline" "$tmp/real/report.md" && grep -q "| 50% | linux-swap |" "$tmp/real/report.md"' \
		"report.md has the linux-swap rows"
	check 'grep -q "linux-swap" "$tmp/real/pagerank.gp"' "the plot has a linux-swap line"
	check 'grep -q "^time: generate" "$tmp/real/logs/pagerank-far-r50-linux-swap-1.err"' \
		"the workload's stderr (kernel time) reaches the run's err file"
	check 'grep -q ",all-local-linux-swap," "$tmp/real/results.csv"' "results.csv has the all-local linux-swap run"
fi

# 2. the skip path, with a stub that behaves like the script on a machine without root
cat >"$tmp/stub.sh" <<'EOF'
#!/bin/sh
echo "linux-swap-run: SKIP: stub says no cgroup v1 here" >&2
exit 3
EOF
chmod +x "$tmp/stub.sh"
FARSIGHT_LINUX_SWAP_SCRIPT="$tmp/stub.sh" bench "$tmp/stub" >/dev/null 2>"$tmp/stub.stderr"
rc=$?
check '[ $rc = 0 ]' "a skipped linux-swap is not a failure (exit $rc)"
check 'grep -q "skipping the linux-swap baseline.*stub says no cgroup v1" "$tmp/stub.stderr"' "stderr says it was skipped, and why"
check 'grep -q "linux-swap skipped.*stub says no cgroup v1" "$tmp/stub/report.md"' "report.md says it was skipped, and why"
check '[ -z "$(col "$tmp/stub/results.csv" kind)" ] && grep -q ",far,50,none," "$tmp/stub/results.csv"' \
	"the farsight runs are there, the linux-swap ones are not"

# 3. a missing script is a usage error naming it
FARSIGHT_LINUX_SWAP_SCRIPT="$tmp/nope.sh" bench "$tmp/nope" >/dev/null 2>"$tmp/nope.stderr"
rc=$?
check '[ $rc = 2 ] && grep -q "nope.sh" "$tmp/nope.stderr"' "a missing script is a clear error (exit $rc)"

# nothing left behind: every cgroup and swapfile our runs' logs name is gone (named
# ones only: other people's linux-swap runs may be going on)
for e in "$tmp"/real/logs/*linux-swap*.err; do
	[ -e "$e" ] || continue
	cg=$(sed -n 's/^linux-swap-run: running under \([^:]*\):.*/\1/p' "$e")
	dev=$(sed -n 's/^linux-swap-run: running under .*, swap file (\([^)]*\)).*/\1/p' "$e")
	[ -n "$cg" ] || continue
	check '[ ! -e "$cg" ]' "cgroup $cg removed"
	check '[ -n "$dev" ] && ! grep -q "^$dev " /proc/swaps && [ ! -e "$dev" ]' "swapfile $dev swapped off and deleted"
done
[ $fails = 0 ]
