# preload_lib.sh - shared helpers of the preload shell tests (sourced, not run).
#
# run_far VAR=VALUE... -- PROGRAM ARGS: runs PROGRAM with its heap in far memory,
# through `farsight run` when that command exists, else with LD_PRELOAD directly (what
# `farsight run` sets up).  check NAME CONDITION-STATUS prints ok/FAIL and counts.
set -u
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
BUILD=${BUILD:-build}
case "$BUILD" in
*asan* | *tsan*)
	# The sanitizer runtimes must come first in LD_PRELOAD and interpose malloc
	# themselves, which is exactly what the shim does: the two cannot be combined.
	echo "skip: the preload shim cannot run under a sanitizer build ($BUILD)"
	exit 0
	;;
esac
PRELOAD=${FARSIGHT_PRELOAD:-$PWD/$BUILD/libfarsight-preload.so}
FARSIGHT=${FARSIGHT_BIN:-$PWD/$BUILD/farsight}
H=$PWD/$BUILD/tests
if [ ! -e "$PRELOAD" ]; then
	echo "FAIL: $PRELOAD is missing; run make first"
	exit 1
fi
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
PASS=0
FAILS=0
USE_CLI=0
if "$FARSIGHT" run --help >/dev/null 2>&1; then USE_CLI=1; fi

run_far() {
	local envs=()
	while [ $# -gt 0 ] && [ "$1" != "--" ]; do envs+=("$1"); shift; done
	shift
	if [ "$USE_CLI" = 1 ]; then
		env ${envs[@]+"${envs[@]}"} "$FARSIGHT" run -- "$@"
	else
		env ${envs[@]+"${envs[@]}"} LD_PRELOAD="$PRELOAD" "$@"
	fi
}

check() { # check NAME STATUS [DETAIL]
	if [ "$2" -eq 0 ]; then
		echo "ok   $1"
		PASS=$((PASS + 1))
	else
		echo "FAIL $1${3:+: $3}"
		FAILS=$((FAILS + 1))
	fi
}

# json_num FILE KEY: the number after "KEY": in a stats JSON file (0 if missing).
json_num() {
	local v
	v=$(grep -o "\"$2\": *[0-9.]*" "$1" 2>/dev/null | head -1 | sed 's/.*: *//')
	echo "${v:-0}"
}

finish() {
	echo "$PASS passed, $FAILS failed"
	[ "$FAILS" -eq 0 ]
}
