#!/usr/bin/env bash
# test_memd_cli.sh - `farsight memd` as a command: --help, bad usage (exit 2), refusing
# to listen beyond loopback without a secret, a too-short secret, pidfile/port-file
# and a clean SIGTERM shutdown.
set -u
BIN=${FARSIGHT_BIN:-build/farsight}
tmp=$(mktemp -d /tmp/fs-memd-cli.XXXXXX)
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
fail=0
check() { if eval "$1"; then echo "ok   $2"; else echo "FAIL $2"; fail=1; fi; }

"$BIN" memd --help >"$tmp/help" 2>&1; rc=$?
check '[ $rc -eq 0 ] && grep -q -- "--secret-file" "$tmp/help" && grep -q "terminal 2" "$tmp/help"' "help exits 0 and documents the flags"

"$BIN" memd --bogus >/dev/null 2>"$tmp/err"; rc=$?
check '[ $rc -eq 2 ] && grep -q "unknown argument" "$tmp/err"' "an unknown flag is bad usage (2)"

"$BIN" memd --capacity lots 2>"$tmp/err"; rc=$?
check '[ $rc -eq 2 ] && grep -q "capacity" "$tmp/err"' "a bad --capacity is bad usage (2)"

"$BIN" memd --listen 0.0.0.0:0 2>"$tmp/err"; rc=$?
check '[ $rc -eq 2 ] && grep -q "refusing to listen on 0.0.0.0:0 without a secret" "$tmp/err"' \
	"no listening beyond loopback without a secret"

printf 'short\n' >"$tmp/short"
"$BIN" memd --secret-file "$tmp/short" 2>"$tmp/err"; rc=$?
check '[ $rc -eq 2 ] && grep -q "at least 8" "$tmp/err"' "a too-short secret is refused"

"$BIN" memd --listen nonsense 2>"$tmp/err"; rc=$?
check '[ $rc -eq 2 ] && grep -q "not HOST:PORT" "$tmp/err"' "a --listen without a port is bad usage"

"$BIN" memd --listen 127.0.0.1:0 --pidfile "$tmp/pid" --port-file "$tmp/port" 2>"$tmp/log" &
pid=$!
for _ in $(seq 100); do [ -s "$tmp/port" ] && break; sleep 0.05; done
check '[ -s "$tmp/port" ] && [ "$(cat "$tmp/pid")" = "$pid" ]' "pidfile holds the pid, port-file the port"
check 'grep -q "listening on 127.0.0.1:$(cat "$tmp/port")" "$tmp/log"' "logs where it listens"
kill -TERM "$pid"; wait "$pid"; rc=$?; pid=
check '[ $rc -eq 0 ] && [ ! -e "$tmp/pid" ] && grep -q "shutting down" "$tmp/log"' \
	"SIGTERM: exit 0, pidfile removed"
exit $fail
