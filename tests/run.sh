#!/usr/bin/env bash
# Runs every test program (build/tests/test_*) and every shell test (tests/test_*.sh),
# one at a time, and prints the closing "N passed, N failed, N skipped" line.  Exit
# status 1 if any failed.  A test that exits 77 was skipped (it cannot run here: no
# root, no cgroup v1), which is said, never counted as a pass.  TESTS="a b" runs only those; BUILD selects the build folder.
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
export BUILD
export FARSIGHT_BIN="$PWD/$BUILD/farsight"
export FARSIGHT_PRELOAD="$PWD/$BUILD/libfarsight-preload.so"
# ThreadSanitizer cannot shadow the default fixed arena address: let the kernel pick.
case "$BUILD" in *tsan*) export FARSIGHT_ARENA_BASE=0 ;; esac
pass=0; fail=0; skip=0; failed=()
list=()
for t in "$BUILD"/tests/test_* tests/test_*.sh; do
	[ -e "$t" ] || continue
	name=$(basename "$t"); name=${name%.sh}
	if [ -n "${TESTS:-}" ] && ! grep -qw -- "$name" <<<"$TESTS"; then continue; fi
	list+=("$t")
done
for t in "${list[@]}"; do
	name=$(basename "$t")
	start=$(date +%s.%N)
	log=$(mktemp)
	if [[ "$t" == *.sh ]]; then cmd=(bash "$t"); else cmd=("$t"); fi
	timeout "${TEST_TIMEOUT:-600}" "${cmd[@]}" >"$log" 2>&1
	rc=$?
	if [ $rc -eq 0 ]; then
		pass=$((pass+1)); status=PASS
	elif [ $rc -eq 77 ]; then
		skip=$((skip+1)); status=SKIP
	else
		fail=$((fail+1)); status=FAIL; failed+=("$name")
	fi
	secs=$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN{printf "%.1f", e-s}')
	echo "$status $name (${secs}s)"
	if [ "$status" = FAIL ] || [ -n "${VERBOSE:-}" ]; then sed 's/^/    /' "$log" | tail -n 60; fi
	if [ "$status" = SKIP ] && [ -z "${VERBOSE:-}" ]; then grep -m1 '^SKIP' "$log" | sed 's/^/    /'; fi
	rm -f "$log"
done
[ ${#failed[@]} -gt 0 ] && echo "failed: ${failed[*]}"
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
