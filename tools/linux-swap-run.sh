#!/usr/bin/env bash
# linux-swap-run.sh - the kernel baseline: run a program under a cgroup v1 memory limit
# with Linux swap (zram or a swapfile) as its far memory, and report what happened in
# the same vocabulary as farsight's stats (docs/BASELINES.md).
#
#   tools/linux-swap-run.sh --limit BYTES --swap zram|file --page-cluster N \
#       [--json FILE] [--swap-size BYTES] [--swap-dir DIR] -- PROGRAM ARGS...
#
# The kernel's swap readahead (window up to 2^page-cluster pages, grown and shrunk by
# readahead hits) is the prefetcher FastSwap used; page-cluster 0 turns it off.  Note
# that zram is a synchronous swap device: the kernel reads single-mapped pages from it
# directly, bypassing the swap cache and readahead, so with --swap zram page-cluster
# hardly matters; --swap file is the configuration that exercises readahead.
#
# What it sets up, all of it its own and all of it undone on exit (trap):
#   - a cgroup in the cgroup v1 memory hierarchy (mounted privately if the machine has
#     none mounted), with memory.limit_in_bytes = --limit.  cgroup v2 memory.max does
#     not work on the machines this project runs on.  No other cgroup is touched.
#   - a zram device (hot-added, lz4) or a swapfile (in --swap-dir), swapped on with the
#     highest priority so the cgroup's overflow goes there;
#   - vm.page-cluster, restored afterwards.
# Swap devices and page-cluster are system-wide, so runs are serialised with a lock
# (/run/lock/farsight-linux-swap.lock); the /proc/vmstat counters used below
# (pswpin, swap_ra, ...) are system-wide too and are reported as deltas over the run.
#
# Output: a JSON object (to --json FILE, else to stdout after the program's output)
# and a summary line on stderr.  With --swap zram it includes zram's mm_stat as "zram":
# mem_used_max (the compressed store's peak memory), and the data it held and its
# compressed size at the sample that held the most (peak_orig/compr_data_size).  Exit status: 0 the program succeeded, 1 it failed
# (its status is in the JSON), 2 usage error, 3 skipped (not root, no cgroup v1 memory
# controller, no zram), 4 set-up error.
set -u

die_usage() { echo "linux-swap-run: $*" >&2; echo "usage: $0 --limit BYTES --swap zram|file --page-cluster N [--json FILE] [--swap-size BYTES] [--swap-dir DIR] -- PROGRAM ARGS..." >&2; exit 2; }
skip() { echo "linux-swap-run: SKIP: $*" >&2; exit 3; }
fail() { echo "linux-swap-run: error: $*" >&2; exit 4; }
log() { echo "linux-swap-run: $*" >&2; }

# "512M", "1.5G", "4096" -> bytes (binary units, like farsight's fs_parse_size).
parse_size() {
	awk -v s="$1" 'BEGIN {
		if (s !~ /^[0-9]+(\.[0-9]+)?[KkMmGgTt]?[Bb]?$/) exit 1
		n = s + 0; u = toupper(substr(s, match(s, /[KkMmGgTt]/), 1))
		if (u == "K") n *= 1024; else if (u == "M") n *= 1048576
		else if (u == "G") n *= 1073741824; else if (u == "T") n *= 1099511627776
		printf "%.0f\n", n }'
}

limit="" swap="" cluster="" json="" swap_size="8G" swap_dir="/var/tmp"
while [ $# -gt 0 ]; do
	case "$1" in
	--limit) limit=${2-}; shift 2 || die_usage "--limit needs a value" ;;
	--swap) swap=${2-}; shift 2 || die_usage "--swap needs a value" ;;
	--page-cluster) cluster=${2-}; shift 2 || die_usage "--page-cluster needs a value" ;;
	--json) json=${2-}; shift 2 || die_usage "--json needs a value" ;;
	--swap-size) swap_size=${2-}; shift 2 || die_usage "--swap-size needs a value" ;;
	--swap-dir) swap_dir=${2-}; shift 2 || die_usage "--swap-dir needs a value" ;;
	-h|--help) sed -n '2,/^set -u/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	--) shift; break ;;
	*) die_usage "unknown option '$1'" ;;
	esac
done
[ $# -gt 0 ] || die_usage "no program given after --"
limit_bytes=$(parse_size "$limit") || die_usage "--limit '$limit' is not a size (e.g. 268435456, 256M, 1.5G)"
[ "$limit_bytes" -ge 1048576 ] || die_usage "--limit $limit is below 1 MiB; the program could not even start"
swap_bytes=$(parse_size "$swap_size") || die_usage "--swap-size '$swap_size' is not a size"
case "$swap" in zram|file) ;; *) die_usage "--swap must be zram or file, not '$swap'" ;; esac
case "$cluster" in [0-9]|[1-9][0-9]) ;; *) die_usage "--page-cluster must be a small integer (3 = 8-page window, 0 = no readahead), not '$cluster'" ;; esac

# ---- can we run at all? ---------------------------------------------------------
[ "$(id -u)" = 0 ] || skip "needs root (cgroups, swapon, vm.page-cluster); run it as root"
command -v mkswap >/dev/null && command -v swapon >/dev/null && command -v swapoff >/dev/null ||
	skip "mkswap/swapon/swapoff not found (Debian package util-linux)"

# ---- teardown: undo exactly what we did, in reverse ---------------------------------
cg="" mnt="" mounted=0 swapdev="" swapon_done=0 zram_id="" swapfile="" old_cluster=""
teardown() {
	trap - EXIT INT TERM
	if [ -n "$cg" ] && [ -d "$cg" ]; then
		# Anything the program left running in our cgroup is the program's: kill it.
		for _ in 1 2 3 4 5 6 7 8 9 10; do
			pids=$(cat "$cg/cgroup.procs" 2>/dev/null)
			[ -z "$pids" ] && break
			kill -KILL $pids 2>/dev/null
			sleep 0.2
		done
		rmdir "$cg" 2>/dev/null || log "warning: could not remove cgroup $cg"
	fi
	if [ "$swapon_done" = 1 ]; then
		swapoff "$swapdev" 2>/dev/null || log "warning: swapoff $swapdev failed"
	fi
	if [ -n "$zram_id" ]; then
		echo 1 >"/sys/block/zram$zram_id/reset" 2>/dev/null
		echo "$zram_id" >/sys/class/zram-control/hot_remove 2>/dev/null ||
			log "warning: could not hot-remove zram$zram_id"
	fi
	[ -n "$swapfile" ] && rm -f "$swapfile"
	if [ -n "$old_cluster" ]; then
		echo "$old_cluster" >/proc/sys/vm/page-cluster || log "warning: could not restore vm.page-cluster=$old_cluster"
	fi
	if [ "$mounted" = 1 ]; then
		umount "$mnt" 2>/dev/null && rmdir "$mnt" 2>/dev/null
	fi
}
trap teardown EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---- the cgroup v1 memory hierarchy ----------------------------------------------------
mnt=$(awk '$3 == "cgroup" && $4 ~ /(^|,)memory(,|$)/ { print $2; exit }' /proc/mounts)
if [ -z "$mnt" ]; then
	grep -qw memory /proc/cgroups || skip "the kernel has no memory cgroup controller"
	mnt=/run/farsight-memcg
	mkdir -p "$mnt" && mount -t cgroup -o memory farsight-memcg "$mnt" 2>/dev/null ||
		{ rmdir "$mnt" 2>/dev/null; mnt=""; skip "no cgroup v1 memory hierarchy and it cannot be mounted (the memory controller is probably bound to cgroup v2); this baseline needs memory.limit_in_bytes"; }
	mounted=1
fi
[ -w "$mnt/cgroup.procs" ] || skip "cgroup v1 memory hierarchy at $mnt is not writable"

# Swap devices and page-cluster are global: one run at a time.
exec 9>/run/lock/farsight-linux-swap.lock || fail "cannot open /run/lock/farsight-linux-swap.lock"
flock -w 3600 9 || fail "another linux-swap-run has held the lock for an hour"

cg="$mnt/farsight-swap-$$"
mkdir "$cg" || { cg=""; fail "cannot create cgroup $mnt/farsight-swap-$$"; }
echo "$limit_bytes" >"$cg/memory.limit_in_bytes" || fail "cannot set $cg/memory.limit_in_bytes to $limit_bytes"

# ---- swap -------------------------------------------------------------------------
if [ "$swap" = zram ]; then
	[ -r /sys/class/zram-control/hot_add ] || skip "no zram (load the zram module, or use --swap file)"
	zram_id=$(cat /sys/class/zram-control/hot_add) || { zram_id=""; fail "cannot hot-add a zram device"; }
	swapdev=/dev/zram$zram_id
	for _ in 1 2 3 4 5 6 7 8 9 10; do [ -b "$swapdev" ] && break; sleep 0.1; done
	echo lz4 >"/sys/block/zram$zram_id/comp_algorithm" || fail "zram$zram_id does not offer lz4"
	echo "$swap_bytes" >"/sys/block/zram$zram_id/disksize" || fail "cannot size zram$zram_id"
else
	mkdir -p "$swap_dir" || fail "cannot create --swap-dir $swap_dir"
	swapfile="$swap_dir/farsight-swap-$$.swap"
	# A swapfile must have no holes: fallocate where supported, else write zeros.
	if ! fallocate -l "$swap_bytes" "$swapfile" 2>/dev/null; then
		dd if=/dev/zero of="$swapfile" bs=1M count=$((swap_bytes / 1048576)) status=none ||
			fail "cannot write swapfile $swapfile"
	fi
	chmod 600 "$swapfile"
	swapdev=$swapfile
fi
mkswap "$swapdev" >/dev/null 2>&1 || fail "mkswap $swapdev failed"
swapon -p 32767 "$swapdev" || fail "swapon $swapdev failed"
swapon_done=1

old_cluster=$(cat /proc/sys/vm/page-cluster)
echo "$cluster" >/proc/sys/vm/page-cluster || fail "cannot set vm.page-cluster"
vma_ra=$(cat /sys/kernel/mm/swap/vma_ra_enabled 2>/dev/null || echo unknown)

# ---- run --------------------------------------------------------------------------
vmstat() { awk '$1 ~ /^(pswpin|pswpout|swap_ra|swap_ra_hit|pgmajfault)$/ { print $1, $2 }' /proc/vmstat; }
before=$(vmstat)
log "running under $cg: limit $limit_bytes bytes, swap $swap ($swapdev), page-cluster $cluster: $*"
t0=$(date +%s.%N)
# In the background, so that a signal to this script runs the teardown at once (it
# kills what is left in the cgroup); <&0 keeps the program's stdin.
sh -c 'echo $$ >"$1/cgroup.procs" && shift && exec "$@"' linux-swap-run "$cg" "$@" <&0 &
prog=$!
# zram frees its pages when the program exits: sample mm_stat meanwhile (every 0.2 s)
# and keep the sample that held the most, for the compression ratio.
sampler=""
if [ -n "$zram_id" ]; then
	zram_peak=$(mktemp)
	( best=0; while kill -0 "$prog" 2>/dev/null; do
		read -r o c _ </sys/block/zram$zram_id/mm_stat
		if [ "$o" -gt "$best" ]; then best=$o; echo "$o $c" >"$zram_peak"; fi
		sleep 0.2
	done ) &
	sampler=$!
fi
wait $prog
status=$?
[ -n "$sampler" ] && wait "$sampler" 2>/dev/null
t1=$(date +%s.%N)
after=$(vmstat)
# zram's own account (Documentation/admin-guide/blockdev/zram.rst, mm_stat): what it
# held, compressed, and the most memory it took: RAM the process's RSS does not show.
zram_stat=""
if [ -n "$zram_id" ]; then
	read -r peak_orig peak_compr <"$zram_peak" 2>/dev/null || { peak_orig=0; peak_compr=0; }
	rm -f "$zram_peak"
	zram_stat=$(awk -v po="${peak_orig:-0}" -v pc="${peak_compr:-0}" '{ printf "{\"mem_used_max\": %d, \"peak_orig_data_size\": %d, \"peak_compr_data_size\": %d, \"compression_ratio\": %.4f}", $5, po, pc, (pc > 0 ? po / pc : 0) }' "/sys/block/zram$zram_id/mm_stat" 2>/dev/null)
fi

# ---- report -----------------------------------------------------------------------
stat_file="$cg/memory.stat"
peak=$(cat "$cg/memory.max_usage_in_bytes")
failcnt=$(cat "$cg/memory.failcnt")
oom_kills=$(awk '$1 == "oom_kill" { print $2 }' "$cg/memory.oom_control")
cmd_json=$(printf '%s ' "$@" | sed 's/ $//; s/\\/\\\\/g; s/"/\\"/g')

report=$( {
	echo "$before" | sed 's/^/B /'
	echo "$after" | sed 's/^/A /'
	sed 's/^/S /' "$stat_file"
} | awk -v t0="$t0" -v t1="$t1" -v limit="$limit_bytes" -v peak="$peak" \
	-v failcnt="$failcnt" -v oom="${oom_kills:-0}" -v status="$status" -v swap="$swap" \
	-v dev="$swapdev" -v cluster="$cluster" -v vma_ra="$vma_ra" -v cmd="$cmd_json" \
	-v zram="$zram_stat" '
	$1 == "B" { b[$2] = $3 } $1 == "A" { a[$2] = $3 }
	$1 == "S" { s[$2] = $3; order[++ns] = $2 }
	function d(k) { return a[k] - b[k] }
	END {
		wall = t1 - t0
		ra = d("swap_ra"); hit = d("swap_ra_hit"); maj = s["pgmajfault"]
		wasted = ra - hit; if (wasted < 0) wasted = 0
		acc = ra > 0 ? hit / ra : 0
		cov = (hit + maj) > 0 ? hit / (hit + maj) : 0
		printf "{\n"
		printf "  \"baseline\": \"linux-swap\",\n"
		printf "  \"command\": \"%s\",\n", cmd
		printf "  \"exit_status\": %d,\n", status
		printf "  \"swap\": \"%s\",\n  \"swap_device\": \"%s\",\n", swap, dev
		printf "  \"page_cluster\": %d,\n  \"readahead_max_pages\": %d,\n", cluster, 2 ^ cluster
		printf "  \"vma_ra_enabled\": \"%s\",\n", vma_ra
		printf "  \"wall_seconds\": %.6f,\n", wall
		printf "  \"local_mem_budget_bytes\": %.0f,\n", limit
		printf "  \"local_mem_peak_bytes\": %.0f,\n", peak
		printf "  \"faults\": %d,\n", s["pgfault"]
		printf "  \"demand_fetches\": %d,\n", maj
		printf "  \"prefetches_issued\": %d,\n", ra
		printf "  \"prefetch_hits\": %d,\n", hit
		printf "  \"wasted_prefetches\": %d,\n", wasted
		printf "  \"writebacks\": %d,\n", d("pswpout")
		printf "  \"far_bytes_read\": %.0f,\n", d("pswpin") * 4096
		printf "  \"far_bytes_written\": %.0f,\n", d("pswpout") * 4096
		printf "  \"accuracy\": %.6f,\n", acc
		printf "  \"coverage\": %.6f,\n", cov
		printf "  \"swap_ins\": %d,\n", d("pswpin")
		printf "  \"refaults_anon\": %d,\n", s["workingset_refault_anon"]
		printf "  \"limit_hits\": %d,\n", failcnt
		printf "  \"oom_kills\": %d,\n", oom
		if (zram != "") printf "  \"zram\": %s,\n", zram
		printf "  \"global_counters\": [\"prefetches_issued\", \"prefetch_hits\", \"wasted_prefetches\", \"writebacks\", \"far_bytes_read\", \"far_bytes_written\", \"swap_ins\"],\n"
		printf "  \"memory_stat\": {"
		for (i = 1; i <= ns; i++) printf "%s\"%s\": %s", (i > 1 ? ", " : ""), order[i], s[order[i]]
		printf "},\n"
		printf "  \"vmstat_delta\": {\"pswpin\": %d, \"pswpout\": %d, \"swap_ra\": %d, \"swap_ra_hit\": %d, \"pgmajfault\": %d}\n", d("pswpin"), d("pswpout"), ra, hit, d("pgmajfault")
		printf "}\n"
	}')

if [ -n "$json" ]; then
	printf '%s\n' "$report" >"$json" || fail "cannot write $json"
else
	printf '%s\n' "$report"
fi
summary=$(printf '%s\n' "$report" | awk -F'[:,]' '
	/^  "(wall_seconds|demand_fetches|prefetch_hits|prefetches_issued|swap_ins|oom_kills)"/ {
		gsub(/[" ]/, "", $1); gsub(/ /, "", $2); printf "%s=%s ", $1, $2 }')
log "exit status $status; $summary"
[ "$status" = 0 ] && exit 0
exit 1
