#!/usr/bin/env bash
# test_linux_swap.sh - the linux-swap baseline (tools/linux-swap-run.sh): a program that
# touches three times its cgroup v1 memory limit runs to completion with correct
# results, swaps, reports farsight-named stats in JSON, and everything the script set
# up (cgroup, swap device, vm.page-cluster) is gone afterwards.  Skips (exit 77, which
# tests/run.sh reports as SKIP) without root or a cgroup v1 memory controller; checks the usage errors everywhere.
set -u
cd "$(dirname "$0")/.."
run=tools/linux-swap-run.sh
fails=0
check() { if eval "$1"; then echo "ok   $2"; else echo "FAIL $2 ($1)"; fails=$((fails+1)); fi; }

# Usage errors need neither root nor cgroups.
$run --limit 32M --swap nfs --page-cluster 3 -- true 2>/dev/null; check '[ $? = 2 ]' "bad --swap is a usage error"
$run --limit lots --swap zram --page-cluster 3 -- true 2>/dev/null; check '[ $? = 2 ]' "bad --limit is a usage error"
$run --limit 32M --swap zram --page-cluster 3 2>/dev/null; check '[ $? = 2 ]' "missing program is a usage error"

if [ "$(id -u)" != 0 ]; then
	$run --limit 32M --swap zram --page-cluster 3 -- true 2>/dev/null
	check '[ $? = 3 ]' "without root the script skips with status 3"
	echo "SKIP linux-swap run: needs root"; [ $fails = 0 ] || exit 1; exit 77
fi
if ! awk '$3 == "cgroup" && $4 ~ /(^|,)memory(,|$)/ { f = 1 } END { exit !f }' /proc/mounts; then
	echo "SKIP linux-swap run: no cgroup v1 memory hierarchy mounted"; [ $fails = 0 ] || exit 1; exit 77
fi
swap=file
[ -r /sys/class/zram-control/hot_add ] && swap=zram

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# Touch 96 MiB under a 32 MiB limit, write a pattern, read it back twice.
cat >"$tmp/touch.pl" <<'PERL'
my $n = $ARGV[0] << 20; my $s = "\0" x $n;
for (my $i = 0; $i < $n; $i += 4096) { vec($s, $i, 8) = ($i >> 12) & 0xff; }
for my $r (1..2) { for (my $i = 0; $i < $n; $i += 4096) {
	die "BAD $i\n" if vec($s, $i, 8) != (($i >> 12) & 0xff); } }
print "pattern ok\n";
PERL
cluster_before=$(cat /proc/sys/vm/page-cluster)
$run --limit 32M --swap $swap --page-cluster 3 --json "$tmp/out.json" -- perl "$tmp/touch.pl" 96 >"$tmp/stdout" 2>"$tmp/stderr"
rc=$?
if [ $rc = 3 ]; then
	echo "SKIP linux-swap run: $(grep SKIP "$tmp/stderr")"; [ $fails = 0 ]; exit
fi
check '[ $rc = 0 ]' "the program ran to completion (status $rc)"
check 'grep -q "pattern ok" "$tmp/stdout"' "the program's memory held its contents through swap"
get() { sed -n "s/^  \"$1\": \\([0-9.]*\\),\$/\\1/p" "$tmp/out.json"; }
check '[ "$(get exit_status)" = 0 ]' "JSON exit_status is 0"
check '[ "$(get local_mem_budget_bytes)" = 33554432 ]' "JSON budget is the limit"
check '[ "$(get local_mem_peak_bytes)" -le 33554432 ]' "peak stays within the limit"
check '[ "$(get demand_fetches)" -gt 1000 ]' "the program took major faults (demand_fetches $(get demand_fetches))"
check '[ "$(get far_bytes_written)" -gt 33554432 ]' "more than the limit was swapped out"
check '[ "$(get oom_kills)" = 0 ]' "no OOM kill"
check 'awk "BEGIN { exit !($(get wall_seconds) > 0) }"' "wall_seconds is positive"
for k in faults prefetches_issued prefetch_hits accuracy coverage memory_stat vmstat_delta; do
	check 'grep -q "\"$k\":" "$tmp/out.json"' "JSON has $k"
done
cg=$(sed -n 's/^linux-swap-run: running under \([^:]*\):.*/\1/p' "$tmp/stderr")
dev=$(sed -n 's/^  "swap_device": "\(.*\)",$/\1/p' "$tmp/out.json")
check '[ -n "$cg" ] && [ ! -e "$cg" ]' "the cgroup $cg is removed"
check '[ -n "$dev" ] && ! grep -q "^$dev " /proc/swaps' "the swap device $dev is off"
check '[ ! -e "$dev" ]' "the zram device or swapfile $dev is gone"
# page-cluster is global: compare only while no other run (a bench) holds the lock.
if flock -n /run/lock/farsight-linux-swap.lock true; then
	check '[ "$(cat /proc/sys/vm/page-cluster)" = "$cluster_before" ]' "vm.page-cluster is restored"
fi

$run --limit 32M --swap $swap --page-cluster 0 --json "$tmp/f.json" -- false 2>/dev/null
check '[ $? = 1 ]' "a failing program gives status 1"
check 'grep -q "\"exit_status\": 1," "$tmp/f.json"' "and its status is in the JSON"
[ $fails = 0 ]
