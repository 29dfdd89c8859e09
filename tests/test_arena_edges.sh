#!/usr/bin/env bash
# test_arena_edges.sh - what a program meets at the edges of far memory (issue 18,
# finding 9), each compared with a plain run of the same program:
#   far memory full: malloc returned NULL (Python: MemoryError, status 1) and mmap went
#     local without a word; now both are served from local memory, with one notice that
#     says so and how to avoid it (--arena-size);
#   madvise(MADV_DONTNEED) of malloc'd far memory returned 0 and left the data, where the
#     kernel zeroes private anonymous pages (glibc mmaps large blocks): now it zeroes;
#   a raw munmap (syscall(SYS_munmap), which the shim cannot see) of far pages the pager
#     still held stopped the program with "unmapping pages ...: Cannot allocate memory";
#     now the message says what the program did (status 70 still: the pages are gone);
#   a read of memory the program had munmap'd returned zeros (or another allocation's
#     bytes): the range stays PROT_NONE until the arena hands it out again, so it is
#     SIGSEGV, as without farsight.
source "$(dirname "$0")/helpers/preload_lib.sh"
PY=/usr/bin/python3
[ -x "$PY" ] || PY=$(command -v python3)

cat >"$TMP/full.py" <<'PYEOF'
import mmap
b = [bytearray(range(256)) * (4096 * 4) for _ in range(6)]   # 6 x 4 MiB through malloc
m = [mmap.mmap(-1, 2 << 20, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS) for _ in range(4)]
for i, x in enumerate(m):
    x[:] = bytes([i + 1]) * len(x)
print(sum(sum(x[::4099]) for x in b), sum(x[12345] for x in m))
PYEOF
want=$("$PY" "$TMP/full.py")
got=$(timeout -k 5 120 "$FARSIGHT" run --local-mem 1M --arena-size 4M -- "$PY" "$TMP/full.py" \
	2>"$TMP/full.err")
st=$?
[ $st -eq 0 ] && [ "$got" = "$want" ] &&
	[ "$(grep -c 'far memory is full: its arena of 4.0 MiB (--arena-size)' "$TMP/full.err")" = 1 ]
check "far memory full (32 MiB of malloc and mmap into a 4M arena): status $st, same output, one notice" $? \
	"want '$want', got '$got'; $(grep -v '^farsight:  ' "$TMP/full.err" | head -3)"

cat >"$TMP/dn.py" <<'PYEOF'
import ctypes
libc = ctypes.CDLL(None, use_errno=True)
libc.madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
b = bytearray(b'\x07') * (4 << 20)             # malloc'd; plain glibc mmaps a block this big
base = ctypes.addressof((ctypes.c_char * len(b)).from_buffer(b))
page = (base + 4095) & ~4095                    # the first whole page inside
r = libc.madvise(page + 8192, 16 * 4096, 4)     # MADV_DONTNEED of 16 pages
print(r, b.count(0), b[page + 8192 - base - 1], b[page + 8192 + 16 * 4096 - base])
PYEOF
want=$("$PY" "$TMP/dn.py")
for budget in 1M 64M; do
	got=$(timeout -k 5 120 "$FARSIGHT" run --quiet --local-mem $budget -- "$PY" "$TMP/dn.py" 2>&1)
	st=$?
	[ $st -eq 0 ] && [ "$got" = "$want" ] && [ "$want" = "0 65536 7 7" ]
	check "madvise(DONTNEED) of 16 malloc'd far pages at $budget: they read as zeros, their neighbours not ($got)" $? \
		"status $st, want '$want', got '$got'"
done

cat >"$TMP/raw.py" <<'PYEOF'
import ctypes
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
b = bytearray(b'\x07') * (8 << 20)
base = ctypes.addressof((ctypes.c_char * len(b)).from_buffer(b))
o = ((base + 4095) & ~4095) - base + 8192
for i in range(16):
    b[o + i * 4096] = 9                 # local and dirty: the clock will unmap them
libc.syscall(11, ctypes.c_void_p(base + o), ctypes.c_size_t(16 * 4096))  # SYS_munmap
x = bytearray(b'\x05') * (16 << 20)     # pressure: the pager reaches those pages
print(sum(x[::4096]))
PYEOF
timeout -k 5 120 "$FARSIGHT" run --quiet --local-mem 1M -- "$PY" "$TMP/raw.py" >/dev/null 2>"$TMP/raw.err"
st=$?
[ $st -eq 70 ] && grep -q 'the program unmapped far memory at 0x[0-9a-f]*-0x[0-9a-f]* (16 pages) with a raw system call' "$TMP/raw.err"
check "raw munmap of 16 far pages the pager held: status $st, a message that names it" $? \
	"$(head -2 "$TMP/raw.err")"

cat >"$TMP/uaf.py" <<'PYEOF'
import ctypes, mmap
m = mmap.mmap(-1, 8 << 20, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)  # far
m[:] = b'\x07' * len(m)
addr = ctypes.addressof(ctypes.c_char.from_buffer(m)) + len(m) - 4096
print("before", ctypes.string_at(addr, 1), flush=True)
m.close()                                   # munmap
print("after", ctypes.string_at(addr, 1), flush=True)
PYEOF
want=$("$PY" "$TMP/uaf.py" 2>/dev/null)
want_st=$?
got=$(timeout -k 5 120 "$FARSIGHT" run --quiet --local-mem 1M -- "$PY" "$TMP/uaf.py" 2>"$TMP/uaf.err")
st=$?
[ $want_st -eq 139 ] && [ $st -eq 139 ] && [ "$got" = "$want" ]
check "a read after munmap of far memory: SIGSEGV as without farsight (status $st, plain $want_st)" $? \
	"want '$want', got '$got'"
finish
