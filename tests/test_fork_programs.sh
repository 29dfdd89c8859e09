#!/usr/bin/env bash
# test_fork_programs.sh - programs that fork without exec, at a local budget well below
# their footprint (issue 14).  Each output is compared with the same command run
# without farsight, and the stats must show far memory in use across the processes:
#   dash and bash: pipelines and command substitutions over a large variable (bash
#     also without SHELL, which makes it use NSS before it forks)
#   python3: os.system with a pipe; multiprocessing.Pool over a large list
#   git: clone of a local repository, then gc (pack-refs, repack: forked helpers)
#   redis: BGSAVE (a forked child writes the dump), then a plain redis loads it
#   threads: forks from one thread while others allocate far memory (issue 14's hang)
# Every farsight run has a time limit (RUN_LIMIT seconds), so a hang fails its own case
# and names it instead of eating the whole suite's budget.
source "$(dirname "$0")/helpers/preload_lib.sh"
RUN_LIMIT=${RUN_LIMIT:-60}
# limited CMD...: CMD with the time limit; status 124 when it had to be stopped.
limited() { timeout -k 5 "$RUN_LIMIT" "$@"; }
# why STATUS: what a failed case's status means, for its message.
why() { [ "$1" -eq 124 ] || [ "$1" -eq 137 ] && echo "HUNG: stopped after ${RUN_LIMIT} s; " || echo "status $1; "; }
PY=/usr/bin/python3
[ -x "$PY" ] || PY=$(command -v python3)

# same NAME BUDGET MIN_FAR_PAGES PROGRAM ARGS...: output identical, and the processes
# together touched at least MIN_FAR_PAGES far-memory pages (zero fills + demand fetches).
same() {
	local name=$1 budget=$2 min=$3
	shift 3
	local want got st
	want=$("$@" 2>&1)
	got=$(limited "$FARSIGHT" run --quiet --local-mem "$budget" --stats-json "$TMP/$name.json" -- "$@" 2>&1)
	st=$?
	local far=$(($(json_num "$TMP/$name.json" tree_zero_fills) + $(json_num "$TMP/$name.json" tree_demand_fetches)))
	local procs
	procs=$(json_num "$TMP/$name.json" processes)
	[ $st -eq 0 ] && [ "$got" = "$want" ] && [ "$far" -ge "$min" ] && [ "$procs" -ge 2 ]
	check "$name: same output at $budget, $procs processes, $far far pages" $? \
		"$(why $st)$(diff <(echo "$want") <(echo "$got") | head -5)"
}

SH_SCRIPT='x=$(seq 1 150000); echo "$x" | tail -1; y=$(echo "$x" | wc -l); echo "lines $y"; z=$(echo "$x" | grep -c 7); echo "sevens $z"; echo "$x" | (read a; echo first $a); echo done'
same dash 256K 200 dash -c "$SH_SCRIPT"
same bash 256K 200 bash -c "$SH_SCRIPT"
# Without SHELL in its environment bash asks NSS (getpwuid) for the login shell, and
# glibc's fork() then reads that NSS state after our fork handler froze the pager: in
# far memory, every command substitution hung (CI's environment has no SHELL).
same bash_without_SHELL 256K 200 env -u SHELL bash -c "$SH_SCRIPT"

# The same pipelines again and again, two at a time on one CPU (cpus=auto pins each
# tree to the CPU it starts on; here both start on the same one): the hang of issue 14
# was a rare interleaving of parent and child pagers.
want=$(bash -c "$SH_SCRIPT")
CPU0=$(taskset -pc $$ | sed 's/.*: //; s/[-,].*//')
bad=0 detail=
for i in 1 2 3; do
	for sh in dash bash; do
		taskset -c "$CPU0" timeout -k 5 "$RUN_LIMIT" "$FARSIGHT" run --quiet --local-mem 256K -- \
			$sh -c "$SH_SCRIPT" >"$TMP/rep.$sh" 2>&1 &
	done
	for sh in dash bash; do
		wait -n
		st=$?
		[ $st -ne 0 ] && bad=$((bad + 1)) && detail="$(why $st)"
	done
	for sh in dash bash; do
		[ "$(cat "$TMP/rep.$sh")" = "$want" ] || { bad=$((bad + 1)); detail+="$sh round $i: $(diff <(echo "$want") "$TMP/rep.$sh" | head -3) "; }
	done
done
[ $bad -eq 0 ]
check "dash and bash pipelines, 3 rounds of two at once on one CPU: same output every time" $? "$detail"

got=$(limited "$FARSIGHT" run --quiet --local-mem 1M --stats-json "$TMP/threads.json" -- \
	"$H/preload_fork" threads 40 2 2>&1)
st=$?
[ $st -eq 0 ] && [ "$got" = "threads ok" ] && [ "$(json_num "$TMP/threads.json" processes)" -ge 41 ]
check "40 forks from one thread while two others allocate and free far memory, and a SIGCHLD handler writes far memory: no deadlock, every child sees the parent's data" $? \
	"$(why $st)$got"

same os_system 1M 200 "$PY" -c '
import os
x = [str(i) * 20 for i in range(50000)]
os.system("echo a | tr a A")
print(len(x), sum(map(len, x)))'

same pool 4M 2000 "$PY" -c '
from multiprocessing import Pool
def f(v): return v * v % 1000003
if __name__ == "__main__":
    data = list(range(400000))
    with Pool(3) as p:
        r = p.map(f, data, chunksize=20000)
    print(len(r), sum(r))'

if command -v git >/dev/null; then
	G=$TMP/git
	mkdir -p "$G" && git init -q "$G/src"
	for i in $(seq 1 12); do
		seq $((i * 1000)) $((i * 1000 + 60000)) >"$G/src/f$i"
		git -C "$G/src" add "f$i"
		git -C "$G/src" -c user.email=t@t -c user.name=t commit -qm "c$i"
	done
	want=$(git -C "$G/src" log --format=%H | md5sum)
	limited "$FARSIGHT" run --quiet --local-mem 512K --stats-json "$TMP/clone.json" -- \
		git clone -q --no-local "$G/src" "$G/dst" 2>"$TMP/clone.err"
	st=$?
	got=$(git -C "$G/dst" log --format=%H 2>/dev/null | md5sum)
	far=$(($(json_num "$TMP/clone.json" tree_zero_fills) + $(json_num "$TMP/clone.json" tree_demand_fetches)))
	[ $st -eq 0 ] && [ "$got" = "$want" ] && [ "$far" -ge 200 ] &&
		git -C "$G/dst" fsck --no-progress >/dev/null 2>&1
	check "git clone of a local repository: same history, fsck clean ($far far pages)" $? \
		"$(why $st)$got vs $want, $(head -3 "$TMP/clone.err")"
	limited "$FARSIGHT" run --quiet --local-mem 512K --stats-json "$TMP/gc.json" -- git -C "$G/dst" gc -q \
		2>"$TMP/gc.err"
	st=$?
	got=$(git -C "$G/dst" log --format=%H | md5sum)
	[ $st -eq 0 ] && [ "$got" = "$want" ] && git -C "$G/dst" fsck --no-progress >/dev/null 2>&1 &&
		[ "$(json_num "$TMP/gc.json" processes)" -ge 3 ] && ! grep -q "died\|signal" "$TMP/gc.err"
	check "git gc: helpers ran, same history, fsck clean" $? "$(why $st)$(head -3 "$TMP/gc.err")"
fi

if command -v redis-server >/dev/null && command -v redis-cli >/dev/null; then
	R=$TMP/redis
	mkdir -p "$R"
	limited "$FARSIGHT" run --quiet --local-mem 4M --stats-json "$TMP/redis.json" -- redis-server --port 0 \
		--unixsocket "$R/s" --dir "$R" --save "" --enable-debug-command yes --daemonize no \
		>"$R/log" 2>&1 &
	rpid=$!
	for _ in $(seq 50); do [ -S "$R/s" ] && break; sleep 0.1; done
	cli() { redis-cli -s "$1" "${@:2}"; }
	cli "$R/s" DEBUG POPULATE 40000 key 100 >/dev/null
	want=$(for k in 1 777 39999; do cli "$R/s" GET key:$k; done | md5sum)
	before=$(cli "$R/s" LASTSAVE)
	cli "$R/s" BGSAVE >/dev/null
	for _ in $(seq 300); do [ "$(cli "$R/s" LASTSAVE)" != "$before" ] && break; sleep 0.1; done
	ok=$(cli "$R/s" INFO persistence | grep -c "rdb_last_bgsave_status:ok")
	cli "$R/s" SHUTDOWN NOSAVE >/dev/null 2>&1
	wait $rpid
	redis-server --port 0 --unixsocket "$R/s2" --dir "$R" --save "" --daemonize no >/dev/null 2>&1 &
	r2=$!
	for _ in $(seq 50); do [ -S "$R/s2" ] && break; sleep 0.1; done
	n=$(cli "$R/s2" DBSIZE)
	got=$(for k in 1 777 39999; do cli "$R/s2" GET key:$k; done | md5sum)
	cli "$R/s2" SHUTDOWN NOSAVE >/dev/null 2>&1
	wait $r2
	far=$(json_num "$TMP/redis.json" tree_demand_fetches)
	[ "$ok" = 1 ] && [ "$n" = 40000 ] && [ "$got" = "$want" ] &&
		[ "$(json_num "$TMP/redis.json" processes)" -ge 2 ] && [ "$far" -gt 1000 ]
	check "redis BGSAVE under far memory, reloaded by a plain redis: $n keys, same values ($far demand fetches)" $? \
		"$(grep -v '^farsight' "$R/log" | tail -3)"
else
	echo "skip redis: not installed (tools/install-deps.sh installs redis-server)"
fi

finish
