#!/usr/bin/env bash
# test_preload_programs.sh - unmodified Debian programs give identical output with
# their heap in far memory and a local budget well below their footprint:
#   sort      a generated 46 MiB file (footprint ~115 MiB, budget 48 MiB)
#   python3   a 150k-entry dict, sorted, hashed (footprint ~40 MiB, budget 20 MiB)
#   sqlite3   200k rows in :memory:, an index, aggregates (footprint ~17 MiB, budget 10 MiB)
# Each result is compared with the same program run without farsight, and the stats
# JSON must show demand fetches (pages really went far and came back).
source "$(dirname "$0")/helpers/preload_lib.sh"

# same_output NAME BUDGET PROGRAM ARGS...
same_output() {
	local name=$1 budget=$2
	shift 2
	local want got st
	want=$("$@" | md5sum)
	got=$(run_far FARSIGHT_LOCAL_MEM=$budget FARSIGHT_QUIET=1 FARSIGHT_STATS_JSON="$TMP/$name.json" \
		-- "$@" 2>"$TMP/err" | md5sum)
	st=${PIPESTATUS[0]}
	[ "$got" = "$want" ] && [ "$st" -eq 0 ]
	check "$name: same output under far memory (budget $budget), status $st" $? "$(head -3 "$TMP/err")"
	local f
	f=$(json_num "$TMP/$name.json" demand_fetches)
	[ "${f%.*}" -gt 0 ]
	check "$name: demand fetches happened ($f)" $?
}

awk 'BEGIN { srand(42); for (i = 0; i < 1500000; i++)
	printf "%08d line %d xxxxxxxxxx\n", int(rand() * 100000000), i }' >"$TMP/big.txt"
same_output sort 48M sort "$TMP/big.txt"

# Debian's python (others on PATH may be wrappers that fork a shell first).
PY=/usr/bin/python3
[ -x "$PY" ] || PY=$(command -v python3)
if [ -n "$PY" ]; then
	same_output python 20M "$PY" -c '
import hashlib
d = {i: str(i * 7919 % 1000003) for i in range(150000)}
l = sorted(d.items(), key=lambda kv: kv[1])
print(len(d), sum(len(v) for v in d.values()),
      hashlib.sha256(repr(l[::997]).encode()).hexdigest())'
else
	echo "skip python3: not installed"
fi

if command -v sqlite3 >/dev/null; then
	same_output sqlite3 10M sqlite3 :memory: "
create table t(a integer primary key, b text, c integer);
with recursive s(i) as (select 1 union all select i + 1 from s where i < 200000)
  insert into t select i, printf('%032x', i * 2654435761 % 4294967296), (i * 7919) % 100003 from s;
create index tc on t(c);
select count(*), sum(c), count(distinct c), sum(length(b)) from t;
select c, count(*), min(b) from t group by c order by count(*) desc, c limit 3;"
else
	echo "skip sqlite3: not installed (tools/install-deps.sh installs it)"
fi

finish
