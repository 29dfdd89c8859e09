#!/usr/bin/env bash
# test_outfiles.sh - files farsight writes (the stats JSON, a model, a trace) never
# replace what their path names (issue 18, finding 3): through a symlink the target is
# written and the link stays; a FIFO or a device (through a symlink to /dev/null) is
# written in place, not replaced by a regular file; a write error (/dev/full) is
# reported; a directory is refused; a regular file keeps its permissions.  Devices are
# only ever reached through symlinks inside the test's own folder, so that on code
# without the fix (which renamed over the path) only those links are replaced - never
# /dev/full itself, as happened as root before the fix.
set -u
source "$(dirname "$0")/lib.sh"
BIN=$FARSIGHT_BIN
fail=0
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
ok() { echo "ok   $1"; }
bad() { echo "FAIL $1"; fail=1; }
run() { "$BIN" run --quiet --local-mem 256K "$@" -- sort -n "$tmp/in" >/dev/null; }
seq 20000 | sort -R --random-source=<(yes) >"$tmp/in"

# A symlink to a regular file: the target gets the JSON, the link stays a link.
echo old >"$tmp/target.json"
chmod 640 "$tmp/target.json"
ln -s target.json "$tmp/link.json"
run --stats-json "$tmp/link.json"
if [ -L "$tmp/link.json" ] && grep -q '"faults"' "$tmp/target.json"; then
	ok "stats JSON through a symlink: the target is written, the link stays"
else
	bad "stats JSON through a symlink: link $(stat -c %F "$tmp/link.json"), target: $(head -c 80 "$tmp/target.json")"
fi
[ "$(stat -c %a "$tmp/target.json")" = 640 ] && ok "the target keeps its permissions (640)" ||
	bad "the target's permissions changed to $(stat -c %a "$tmp/target.json")"
ls -a "$tmp" | grep -q '\.tmp' && bad "a temporary file was left behind: $(ls -a "$tmp")" ||
	ok "no temporary file is left behind"

# A symlink to a device: written through, the link stays (before the fix the link was
# replaced by a regular file; as root the same rename replaced /dev/full itself).
ln -s /dev/null "$tmp/null-link"
run --stats-json "$tmp/null-link"
[ -L "$tmp/null-link" ] && [ "$(readlink "$tmp/null-link")" = /dev/null ] && [ -c /dev/null ] &&
	ok "stats JSON to a symlink to /dev/null: written through, nothing replaced" ||
	bad "stats JSON to a symlink to /dev/null replaced it: $(stat -c %F "$tmp/null-link")"

# A FIFO: written in place, so a reader on the other end gets the JSON.
mkfifo "$tmp/fifo"
timeout 20 cat "$tmp/fifo" >"$tmp/from-fifo" &
reader=$!
timeout 20 "$BIN" run --quiet --local-mem 256K --stats-json "$tmp/fifo" -- true
wait $reader
[ -p "$tmp/fifo" ] && grep -q '"faults"' "$tmp/from-fifo" &&
	ok "stats JSON to a FIFO: the reader gets it, the FIFO stays" ||
	bad "stats JSON to a FIFO: $(stat -c %F "$tmp/fifo"), reader got '$(head -c 80 "$tmp/from-fifo")'"

# /dev/full, through a symlink of our own (so that the code before the fix, which
# renamed over the path, replaces only the link): the error is reported.
ln -s /dev/full "$tmp/full-link"
err=$("$BIN" run --quiet --local-mem 256K --stats-json "$tmp/full-link" -- true 2>&1)
[ -L "$tmp/full-link" ] && [ -c /dev/full ] && grep -q "cannot write the statistics to .*: No space left" <<<"$err" &&
	ok "stats JSON to /dev/full: '$err'" || bad "stats JSON to /dev/full: '$err', $(stat -c %F "$tmp/full-link")"

# A directory is refused by name.
mkdir "$tmp/dir"
err=$("$BIN" run --quiet --local-mem 256K --stats-json "$tmp/dir" -- true 2>&1)
[ -d "$tmp/dir" ] && grep -qi "is a directory" <<<"$err" && ok "stats JSON to a directory: '$err'" ||
	bad "stats JSON to a directory: '$err'"

# A model through a symlink, and to /dev/null through a symlink.
echo old >"$tmp/m.fsm"
ln -s m.fsm "$tmp/model-link"
"$BIN" train --trace synth:seq:1:3000 --epochs 1 --out "$tmp/model-link" >/dev/null 2>&1
[ -L "$tmp/model-link" ] && "$BIN" eval --trace synth:seq:2:2000 --model "$tmp/m.fsm" >/dev/null 2>&1 &&
	ok "a model through a symlink: the target is a readable model, the link stays" ||
	bad "a model through a symlink: $(stat -c %F "$tmp/model-link"), $(head -c 8 "$tmp/m.fsm")"
"$BIN" train --trace synth:seq:1:3000 --epochs 1 --out "$tmp/null-link" >/dev/null 2>&1
[ -L "$tmp/null-link" ] && ok "a model to a symlink to /dev/null: the link stays" ||
	bad "a model to a symlink to /dev/null replaced it"

# A trace recorded into a pipe is readable: the header's count cannot be filled in at
# close there, the trailer's stands in.
mkfifo "$tmp/trace-fifo"
timeout 20 cat "$tmp/trace-fifo" >"$tmp/piped.fst" &
reader=$!
timeout 20 "$BIN" run --quiet --local-mem 256K --record "$tmp/trace-fifo" -- sort -n "$tmp/in" >/dev/null
wait $reader
info=$("$BIN" trace info "$tmp/piped.fst" 2>&1)
grep -q "events" <<<"$info" && ok "a trace recorded into a pipe reads back" ||
	bad "a trace recorded into a pipe: $info"
exit $fail
