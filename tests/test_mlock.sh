#!/usr/bin/env bash
# test_mlock.sh - memory locks and far memory (issue 18, finding 5).  mlockall of a
# program whose heap is far made the pager fail (clock: "unmapping pages for the clock:
# Invalid argument", fifo: releasing evicted pages) and stop it with status 70.  Now
# mlockall is refused (ENOMEM, as under a small RLIMIT_MEMLOCK) and mlock of far pages
# too (EAGAIN), with one notice; the program runs to the same result under both
# reclaim policies, and locking local memory still works.
source "$(dirname "$0")/helpers/preload_lib.sh"
PY=$(command -v python3)
cat >"$TMP/ml.py" <<'PYEOF'
import ctypes, mmap
libc = ctypes.CDLL(None, use_errno=True)
far = libc.mlockall(3) != 0                  # refused under farsight, locked without
b = bytearray(64 << 20)                       # far memory under farsight
for i in range(0, len(b), 4096):
    b[i] = (i >> 12) & 255
buf = ctypes.addressof((ctypes.c_char * len(b)).from_buffer(b))
r = libc.mlock(ctypes.c_void_p(buf), ctypes.c_size_t(1 << 20))
e = ctypes.get_errno()
libc.munlockall()
text = ctypes.cast(libc.mlock, ctypes.c_void_p)  # a page of libc's code: never far
ok_local = libc.mlock(text, ctypes.c_size_t(64)) == 0
print(sum(b[i] for i in range(0, len(b), 4096)), "far-refused" if far and r != 0 and e == 11 else "plain", ok_local)
PYEOF
want=$("$PY" "$TMP/ml.py")
for reclaim in clock fifo; do
	got=$(timeout -k 5 120 "$FARSIGHT" run --local-mem 4M --reclaim $reclaim -- "$PY" "$TMP/ml.py" 2>"$TMP/err")
	st=$?
	[ $st -eq 0 ] && [ "$got" = "${want% plain True} far-refused True" ] &&
		[ "$(grep -c 'refused: far memory cannot be locked' "$TMP/err")" = 1 ]
	check "mlockall + mlock of far memory, reclaim $reclaim: status $st, refused once, same sum" $? \
		"want '$want', got '$got'; $(grep -v '^farsight:  ' "$TMP/err" | head -3)"
done
finish
