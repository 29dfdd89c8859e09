# tests/lib.sh - sourced by the shell tests that run programs under `farsight run`:
# goes to the repository root, sets BUILD and FARSIGHT_BIN, and skips (exit 0) under a
# sanitizer build, whose preload library cannot be preloaded into uninstrumented
# programs (their own sanitizer runs cover the library through the C tests).
cd "$(dirname "${BASH_SOURCE[1]}")/.." || exit 1
BUILD=${BUILD:-build}
case "$BUILD" in *san*)
	echo "skip: a sanitizer build of the preload library cannot be preloaded into uninstrumented programs"
	exit 0 ;;
esac
FARSIGHT_BIN=${FARSIGHT_BIN:-$PWD/$BUILD/farsight}

# start_memd NAME [ARGS...]: a memd on 127.0.0.1 at a free port, logging (FARSIGHT_DEBUG)
# to $tmp/NAME.log; sets port and mpid, and adds mpid to the caller's pids array.
start_memd() {
	local name=$1; shift
	FARSIGHT_DEBUG=1 "$FARSIGHT_BIN" memd --listen 127.0.0.1:0 --port-file "$tmp/$name.port" "$@" \
		2>"$tmp/$name.log" &
	mpid=$!; pids+=("$mpid")
	for _ in $(seq 200); do [ -s "$tmp/$name.port" ] && break; sleep 0.05; done
	port=$(cat "$tmp/$name.port")
}

# test_setup NAME: a scratch folder $tmp, the pids array the start_* helpers add their
# servers to (resumed if stopped, then killed, at exit, and $tmp removed), fail=0;
# check CONDITION MESSAGE prints "ok" or "FAIL" and sets fail=1.
test_setup() {
	tmp=$(mktemp -d "/tmp/fs-$1.XXXXXX")
	pids=()
	fail=0
	trap 'for p in "${pids[@]}"; do kill -CONT "$p" 2>/dev/null; kill -9 "$p" 2>/dev/null; done; wait 2>/dev/null; rm -rf "$tmp"' EXIT
}
check() { if eval "$1"; then echo "ok   $2"; else echo "FAIL $2"; fail=1; fi; }
