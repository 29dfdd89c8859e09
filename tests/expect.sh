# tests/expect.sh - sourced by the shell tests of command lines: expect_error STATUS
# PATTERN -- ARGS runs farsight ARGS (stdin /dev/null) and checks that it exits with
# STATUS and prints one line matching PATTERN; sets fail=1 otherwise.  Also sets BIN,
# fail=0 and a temporary folder $tmp (removed at exit), and skips sanitizer builds.
BIN=${FARSIGHT_BIN:-build/farsight}
fail=0
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
case "${BUILD:-build}" in *san*) echo "skip: preloading a sanitizer build into other programs is not supported"; exit 0 ;; esac
expect_error() {
	local want=$1 pat=$2; shift 3
	local out status
	out=$("$BIN" "$@" 2>&1 </dev/null >/dev/null); status=$?
	if [ "$status" -ne "$want" ] || ! grep -q -- "$pat" <<<"$out" || [ "$(wc -l <<<"$out")" -gt 1 ]; then
		echo "FAIL: farsight $* -> status $status, message: $out (wanted $want, /$pat/, one line)"; fail=1
	else
		echo "ok   farsight $* -> $status: $out"
	fi
}
