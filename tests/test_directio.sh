#!/usr/bin/env bash
# test_directio.sh - direct I/O into far memory (issue 18, finding 2).  An O_DIRECT read
# fills pinned pages after the pager may have written them back and punched them out,
# so `dd iflag=direct` at a small budget wrote wrong bytes with status 0.  The shim
# drops O_DIRECT (src/preload/directio.c): every output must equal its input, through
# open(), fcntl(F_SETFL) on stdin, and Python's os.open, and one notice says so.
source "$(dirname "$0")/helpers/preload_lib.sh"
PY=$(command -v python3)

# 16 MiB that no two pages share (a zero page or a repeated one would hide a mix-up).
"$PY" -c "
import random
r = random.Random(5)
open('$TMP/in', 'wb').write(r.randbytes(16 << 20))"

timeout -k 5 120 "$FARSIGHT" run --quiet --local-mem 1M -- dd if="$TMP/in" of="$TMP/o1" bs=8M iflag=direct \
	status=none
st=$?
cmp -s "$TMP/in" "$TMP/o1"
check "dd iflag=direct at a 1M budget: status $st, output equals input" $? \
	"$(cmp "$TMP/in" "$TMP/o1" 2>&1 | head -1)"

timeout -k 5 120 "$FARSIGHT" run --local-mem 1M -- dd of="$TMP/o2" bs=8M iflag=direct oflag=direct status=none \
	<"$TMP/in" 2>"$TMP/o2.err"
st=$?
cmp -s "$TMP/in" "$TMP/o2" && [ "$(grep -c 'O_DIRECT' "$TMP/o2.err")" = 1 ]
check "dd on stdin (fcntl F_SETFL O_DIRECT): status $st, same bytes, one notice" $? \
	"$(grep O_DIRECT "$TMP/o2.err"; cmp "$TMP/in" "$TMP/o2" 2>&1 | head -1)"

timeout -k 5 120 "$FARSIGHT" run --quiet --local-mem 1M -- "$PY" -c "
import os, mmap
fd = os.open('$TMP/in', os.O_RDONLY | os.O_DIRECT)
m = mmap.mmap(-1, 16 << 20, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)  # far (the default is MAP_SHARED: local)
assert os.readv(fd, [m]) == 16 << 20
open('$TMP/o3', 'wb').write(m)"
st=$?
cmp -s "$TMP/in" "$TMP/o3"
check "python os.open(O_DIRECT) + readv into an anonymous mapping: status $st, same bytes" $? \
	"$(cmp "$TMP/in" "$TMP/o3" 2>&1 | head -1)"
finish
