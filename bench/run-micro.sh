#!/usr/bin/env bash
# Runs the micro-benchmarks and prints their results (`make bench`).  Benchmarks, not
# tests: they print numbers and never fail on timing.  BUILD selects the build folder;
# FAULT_COST_ARGS is passed to fault_cost (e.g. "--rounds 3 --samples 1000").
# The machine is shared and noisy: compare configurations within one run only.
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
status=0
run() {
	local bin=$BUILD/bench/$1; shift
	if [ ! -x "$bin" ]; then
		echo "== $(basename "$bin"): not built, skipped"
		return
	fi
	echo "== $(basename "$bin") $*"
	"$bin" "$@" || { echo "!! $(basename "$bin") exited with status $?"; status=1; }
	echo
}
echo "micro-benchmarks on $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg), $(uname -r)"
echo
# shellcheck disable=SC2086
run fault_cost ${FAULT_COST_ARGS:-}
run scan --mib 128 --passes 3 --reps 3 --walk seq
run scan --mib 128 --passes 3 --reps 3 --walk cycle
run model_step
run memd_bench
exit $status
