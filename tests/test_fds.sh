#!/usr/bin/env bash
# test_fds.sh - the runtime's descriptors are out of the program's way and defended
# (issue 18, finding 1).  Before the fix they sat at 3, 4, 5: `exec 4<>FILE` in dash
# made the pager punch holes into FILE, `exec 3>f` in bash broke far memory, and
# `ssh -G` (closefrom) ended with exit status 70.  Here:
#   - preload_fds: the descriptors are high and close-on-exec; close, dup2, dup3 and
#     fcntl on them fail with EBADF; close_range and closefrom leave them open; a file
#     of the program's own on 3-9 is neither written nor moved while far memory works;
#   - dash and bash redirecting onto 3 and 4 at a 64K budget: the file is unchanged,
#     the output is right;
#   - ssh -G (closefrom(3)) prints what it prints without farsight.
source "$(dirname "$0")/helpers/preload_lib.sh"

head -c 1M /dev/urandom >"$TMP/user"
cp "$TMP/user" "$TMP/user.orig"
got=$(timeout -k 5 60 "$FARSIGHT" run --quiet --local-mem 256K -- "$H/preload_fds" "$TMP/user" 8 2>"$TMP/err")
st=$?
[ $st -eq 0 ] && [ "$got" = "fds ok" ]
check "a program that closes, redirects onto and closes-from the runtime's descriptors" $? \
	"status $st: $got $(head -5 "$TMP/err")"
grep -q "dup2 onto descriptor [0-9]* refused (EBADF): it holds farsight's" "$TMP/err"
check "... and is told once why its dup2 onto one was refused" $? "$(cat "$TMP/err")"
[ "$(grep -c refused "$TMP/err")" -eq 1 ]
check "... once only" $? "$(cat "$TMP/err")"
cmp -s "$TMP/user" "$TMP/user.orig"
check "... and its own file on descriptors 3-9 is unchanged" $?

# Raw dup2 system calls onto the runtime's descriptors: stopped with the reason, the
# file never written.
got=$(timeout -k 5 60 "$FARSIGHT" run --quiet --local-mem 256K -- "$H/preload_fds" "$TMP/user" 8 raw 2>"$TMP/err")
st=$?
[ $st -eq 70 ] && grep -q "descriptor [0-9]*, farsight's .*, was replaced by the program with a raw system call" "$TMP/err"
check "raw dup2 onto the runtime's descriptors: stopped (70) with the reason" $? \
	"status $st: $got $(head -5 "$TMP/err")"
cmp -s "$TMP/user" "$TMP/user.orig"
check "... and the file put there is unchanged" $? "$(cmp "$TMP/user" "$TMP/user.orig" 2>&1)"
cp "$TMP/user.orig" "$TMP/user"

# The shells, with the file on every number the runtime used to take (which numbers
# those were depended on what the shell inherited); the loop's strings live in far
# memory and are evicted many times over.
loop='s=""; i=0; while [ $i -lt 3000 ]; do s="$s$i"; i=$((i+1)); done; echo ${#s}'
redir=""
for k in 3 4 5 6 7 8 9; do redir="$redir $k<>\"$TMP/user\""; done
for sh in dash bash; do
	command -v $sh >/dev/null || { echo "skip $sh: not installed"; continue; }
	want=$($sh -c "exec $redir; $loop")
	got=$(timeout -k 5 60 "$FARSIGHT" run --quiet --local-mem 64K -- $sh -c "exec $redir; $loop" 2>"$TMP/err")
	st=$?
	[ $st -eq 0 ] && [ "$got" = "$want" ] && cmp -s "$TMP/user" "$TMP/user.orig"
	check "$sh -c 'exec 3<>FILE ... 9<>FILE; ...' at 64K: same output, FILE unchanged" $? \
		"status $st, '$got' vs '$want', $(cmp "$TMP/user" "$TMP/user.orig" 2>&1) $(head -3 "$TMP/err")"
	cp "$TMP/user.orig" "$TMP/user"
done

if command -v ssh >/dev/null; then
	got=$(timeout -k 5 60 "$FARSIGHT" run --quiet -- ssh -G localhost 2>"$TMP/err")
	st=$?
	[ $st -eq 0 ] && [ "$got" = "$(ssh -G localhost 2>/dev/null)" ]
	check "ssh -G localhost (closefrom(3)): same output" $? "status $st: $(head -3 "$TMP/err")"
else
	echo "skip ssh: not installed"
fi
finish
