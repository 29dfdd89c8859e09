#!/usr/bin/env bash
# test_preload.sh - the preload shim on purpose-built programs:
#  - a multi-threaded malloc/calloc/realloc/posix_memalign stress whose patterns must
#    survive with the local budget at ~5% of the live data, under every prefetcher
#    policy this build has (oracle replays a trace recorded by the first run), and
#    with a local_threshold that keeps small allocations local;
#  - a program with its own mmap heap (partial munmap, DONTNEED zeros, mremap);
#  - fork+exec, system, popen, posix_spawn work; fork-then-touch gets the message;
#  - a bad setting stops the program with exit status 2 and names the variable.
source "$(dirname "$0")/helpers/preload_lib.sh"

# 4 threads x 4 MiB live = 16 MiB of data; 800 KiB local is 5%.
STRESS=("$H/preload_stress" 4 4 1)
BUDGET=800K
want=$("${STRESS[@]}")
check "stress runs without far memory" $? "$want"

# stress_far NAME VAR=VALUE...: the stress under far memory must print what it printed
# without, and pages must have come back from far memory.
stress_far() {
	local name=$1
	shift
	local got st
	got=$(run_far FARSIGHT_LOCAL_MEM=$BUDGET FARSIGHT_QUIET=1 FARSIGHT_STATS_JSON="$TMP/s.json" \
		"$@" -- "${STRESS[@]}" 2>"$TMP/err")
	st=$?
	[ "$got" = "$want" ] && [ $st -eq 0 ]
	check "stress $name: same checksum" $? "status $st, '$got' vs '$want': $(head -3 "$TMP/err")"
	local fetches hits
	fetches=$(json_num "$TMP/s.json" demand_fetches)
	hits=$(json_num "$TMP/s.json" prefetch_hits)
	[ "${fetches%.*}" -gt 0 ] || [ "${hits%.*}" -gt 0 ]
	check "stress $name: pages came back from far memory" $? "$fetches fetches, $hits hits"
}

policies=()
for p in none readahead leap hermit farsight; do
	# Does this build have the policy (and, for farsight, a default model)?
	err=$(run_far FARSIGHT_PREFETCH=$p FARSIGHT_QUIET=1 -- /bin/true 2>&1)
	if [ $? -ne 0 ]; then
		echo "skip policy $p: $err"
		continue
	fi
	policies+=("$p")
	stress_far "prefetch=$p" FARSIGHT_PREFETCH=$p
done
[ ${#policies[@]} -ge 2 ]
check "at least none and readahead ran (${policies[*]})" $?

# oracle replays a trace of the same run: record a single-threaded (deterministic)
# stress, then replay it.
want1=$("$H/preload_stress" 1 8 1)
run_far FARSIGHT_LOCAL_MEM=$BUDGET FARSIGHT_QUIET=1 FARSIGHT_RECORD="$TMP/trace.fst" -- \
	"$H/preload_stress" 1 8 1 >/dev/null 2>&1
if [ -s "$TMP/trace.fst" ]; then
	got=$(run_far FARSIGHT_LOCAL_MEM=$BUDGET FARSIGHT_QUIET=1 FARSIGHT_PREFETCH=oracle \
		FARSIGHT_TRACE="$TMP/trace.fst" -- "$H/preload_stress" 1 8 1 2>"$TMP/err")
	[ "$got" = "$want1" ]
	check "stress prefetch=oracle (replaying a recorded run): same checksum" $? \
		"'$got' vs '$want1': $(head -3 "$TMP/err")"
else
	echo "skip policy oracle: no trace was recorded"
fi

stress_far "local_threshold=2K" FARSIGHT_LOCAL_THRESHOLD=2K

got=$(run_far FARSIGHT_LOCAL_MEM=4M FARSIGHT_QUIET=1 FARSIGHT_STATS_JSON="$TMP/mmap.json" -- \
	"$H/preload_mmap" 64 2>&1)
st=$?
[ $st -eq 0 ] && [ "$got" = "mmap ok" ]
check "own mmap heap: munmap part, DONTNEED, mremap, MAP_FIXED" $? "$got"
[ "$(json_num "$TMP/mmap.json" demand_fetches)" -gt 0 ]
check "own mmap heap went to far memory" $?

got=$(run_far FARSIGHT_LOCAL_MEM=1M FARSIGHT_QUIET=1 -- "$H/preload_fork" spawn 2>&1)
st=$?
[ $st -eq 0 ] && grep -q "^fork ok" <<<"$got" && grep -q "^exec-child" <<<"$got" &&
	grep -q "^system-child" <<<"$got" && grep -q "^spawn-child" <<<"$got"
check "fork+exec, system, popen, posix_spawn" $? "$got"

got=$(run_far FARSIGHT_LOCAL_MEM=1M FARSIGHT_QUIET=1 -- "$H/preload_fork" touch 2>&1)
grep -q "child status 0" <<<"$got"
check "fork then touch: the child reads the parent's data" $? "$got"

got=$(run_far FARSIGHT_LOCAL_MEM=2M FARSIGHT_QUIET=1 FARSIGHT_STATS_JSON="$TMP/cow.json" -- \
	"$H/preload_fork" cow 16 3 2>&1)
st=$?
w=$(json_num "$TMP/cow.json" tree_far_bytes_written)
[ $st -eq 0 ] && grep -q "^cow ok" <<<"$got" && [ "$(json_num "$TMP/cow.json" processes)" -ge 5 ] &&
	[ "${w%.*}" -gt $((16 << 20)) ]
check "fork without exec: parent, 3 children and a grandchild each write and read their own copy of a 16 MiB far buffer at a 2M budget ($w bytes written far)" $? "$got"

got=$(run_far FARSIGHT_LOCAL_MEM=lots -- /bin/true 2>&1)
st=$?
[ $st -eq 2 ] && grep -q "farsight: .*FARSIGHT_LOCAL_MEM.*lots" <<<"$got"
check "a bad setting: exit 2 and a message naming it" $? "status $st: $got"

# Summary and JSON come from the root process only, not from programs it execs.
got=$(run_far FARSIGHT_STATS_JSON="$TMP/root.json" -- /bin/sh -c '/bin/true; exec /bin/echo hi' 2>&1)
[ "$(grep -c '^farsight: .* s, prefetch' <<<"$got")" -eq 1 ] && [ -s "$TMP/root.json" ]
check "one summary for a program that execs another" $? "$got"

finish
