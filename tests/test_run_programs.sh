#!/usr/bin/env bash
# test_run_programs.sh - `farsight run` with programs as users start them (issue 14):
#  - SIGTERM to `farsight run` mid-run: forwarded, the program ends, the summary and
#    the stats file are still written;
#  - cpus=auto: a program that starts a thread keeps all its CPUs, and the stats say so;
#  - a static binary gets one line saying it runs without far memory, and why;
#  - a wrapper launcher (`farsight workload`): the summary and stats are the workload's,
#    and a trace recorded through it replays through it with the oracle;
#  - the JVM's heap (reserve PROT_NONE, commit with mmap MAP_FIXED) reaches far memory
#    (with -XX:-UseCompressedOops: compressed oops reserve at an address of their own),
#    output identical to a plain run; with compressed oops, one line says why not;
#  - `make install` into a DESTDIR: the installed binary runs a program with the default
#    model from another directory, and the man page is there.
source "$(dirname "$0")/helpers/preload_lib.sh"
PY=/usr/bin/python3
[ -x "$PY" ] || PY=$(command -v python3)

# SIGTERM mid-run.
"$FARSIGHT" run --local-mem 2M --stats-json "$TMP/term.json" -- "$PY" -c '
import time, sys
x = [bytes(1000) for i in range(20000)]
print("ready", flush=True)
time.sleep(60)' >"$TMP/term.out" 2>"$TMP/term.err" &
pid=$!
for _ in $(seq 100); do grep -q ready "$TMP/term.out" 2>/dev/null && break; sleep 0.1; done
sleep 0.1
kill -TERM $pid
wait $pid
st=$?
[ $st -eq 143 ] && grep -q "^farsight: .* prefetcher readahead" "$TMP/term.err" &&
	[ "$(json_num "$TMP/term.json" zero_fills)" -gt 1000 ] &&
	grep -q "killed by signal 15" "$TMP/term.err"
check "SIGTERM mid-run: forwarded (status $st), summary and stats written" $? "$(cat "$TMP/term.err")"
pgrep -f "time.sleep\(60\)" >/dev/null
[ $? -ne 0 ]
check "SIGTERM mid-run: the program did not survive" $?

# cpus=auto with threads.
if [ "$(nproc)" -gt 1 ]; then
	got=$("$FARSIGHT" run --quiet --stats-json "$TMP/cpu.json" -- "$PY" -c '
import os, threading
t = threading.Thread(target=lambda: None); t.start(); t.join()
print(len(os.sched_getaffinity(0)))')
	[ "$got" = "$(nproc)" ] && grep -q '"placement": ".*keeps all its CPUs' "$TMP/cpu.json"
	ok=$?
	check "cpus=auto: a threaded program keeps all its CPUs ($got), placement in the stats" $ok \
		"$(grep placement "$TMP/cpu.json")"
	got=$("$FARSIGHT" run --quiet --stats-json "$TMP/cpu1.json" -- "$PY" -c '
import os; print(len(os.sched_getaffinity(0)))')
	[ "$got" = 1 ] && grep -q '"placement": ".*share one CPU' "$TMP/cpu1.json"
	check "cpus=auto: a single-threaded program shares one CPU with its pager, and says so" $?
else
	echo "skip cpus: one CPU"
fi

# A static binary.
if command -v busybox >/dev/null && ! ldd "$(command -v busybox)" >/dev/null 2>&1; then
	got=$("$FARSIGHT" run -- busybox echo hi 2>&1)
	[ "$(grep -c "runs without far memory: it is statically linked" <<<"$got")" = 1 ] &&
		grep -qx hi <<<"$got"
	check "static binary: runs, one line saying why it has no far memory" $? "$got"
else
	echo "skip static: no static busybox (apt-get install busybox-static)"
fi

# A wrapper launcher: record and replay through `farsight workload`.
if [ -x "$PWD/$BUILD/farsight-workloads" ]; then
	W=("$FARSIGHT" workload pagerank --size tiny)
	want=$("${W[@]}" 2>/dev/null | grep checksum)
	got=$("$FARSIGHT" run --local-mem 256K --record "$TMP/w.fst" --stats-json "$TMP/w1.json" -- "${W[@]}" \
		2>"$TMP/w1.err" | grep checksum)
	f=$(json_num "$TMP/w1.json" demand_fetches)
	[ "$got" = "$want" ] && [ "$f" -gt 100 ]
	check "wrapper: the workload's summary and stats (demand fetches $f)" $?
	got=$("$FARSIGHT" run --local-mem 256K --prefetch oracle --trace "$TMP/w.fst" --stats-json "$TMP/w2.json" \
		-- "${W[@]}" 2>"$TMP/w2.err" | grep checksum)
	# pages the oracle brought in ahead of the program: hits on first touch, or mapped
	# on arrival (prefetch_map=direct, the default), which raise no fault to count
	h=$(($(json_num "$TMP/w2.json" prefetch_hits) + $(json_num "$TMP/w2.json" prefetches_mapped)))
	[ "$got" = "$want" ] && ! grep -q "not from this program" "$TMP/w2.err" && [ "$h" -gt 100 ]
	check "wrapper: the oracle replays a trace recorded through it ($h hits)" $? "$(tail -3 "$TMP/w2.err")"
fi

# The JVM's heap.
if command -v java >/dev/null && command -v javac >/dev/null; then
	mkdir -p "$TMP/j"
	cat >"$TMP/j/Big.java" <<'J'
public class Big {
	public static void main(String[] a) {
		int n = Integer.parseInt(a[0]);
		byte[][] x = new byte[n][];
		for (int i = 0; i < n; i++) { x[i] = new byte[1 << 20]; x[i][i % 1000] = (byte) i; }
		long s = 0;
		for (int i = 0; i < n; i++) s += x[i][i % 1000];
		System.out.println("sum " + s);
	}
}
J
	if javac -d "$TMP/j" "$TMP/j/Big.java" 2>/dev/null; then
		J=(java -XX:-UseCompressedOops -Xmx256m -XX:+UseSerialGC -cp "$TMP/j" Big 120)
		want=$("${J[@]}")
		got=$("$FARSIGHT" run --quiet --local-mem 24M --stats-json "$TMP/j.json" -- "${J[@]}" 2>"$TMP/j.err")
		r=$(json_num "$TMP/j.json" far_bytes_written)
		[ "$got" = "$want" ] && [ "${r%.*}" -gt $((50 << 20)) ]
		check "JVM: heap in far memory ($r bytes written far at a 24M budget), same output" $? \
			"$got / $want $(head -3 "$TMP/j.err")"
		"$FARSIGHT" run --quiet --local-mem 24M -- java -Xmx256m -XX:+UseSerialGC -cp "$TMP/j" Big 120 \
			>/dev/null 2>"$TMP/j2.err"
		grep -q "stayed mostly local.*UseCompressedOops" "$TMP/j2.err"
		check "JVM with compressed oops: one line says its heap stays local and what to do" $? \
			"$(cat "$TMP/j2.err")"
	fi
else
	echo "skip java: not installed"
fi

# make install, then run from elsewhere with the default model.
if make -s install DESTDIR="$TMP/inst" PREFIX=/opt/fs BUILD="$BUILD" >"$TMP/inst.log" 2>&1; then
	I=$TMP/inst/opt/fs
	got=$(cd / && env -u FARSIGHT_PRELOAD -u FARSIGHT_BIN "$I/bin/farsight" run --prefetch farsight \
		--local-mem 1M -- "$PY" -c 'print(sum(len(str(i)) for i in range(200000)))' 2>"$TMP/i.err")
	want=$("$PY" -c 'print(sum(len(str(i)) for i in range(200000)))')
	[ "$got" = "$want" ] && grep -q "prefetcher farsight" "$TMP/i.err" &&
		[ -s "$I/share/man/man1/farsight.1" ] && [ -e "$I/share/farsight/models/default.fsm" ] &&
		(cd / && "$I/bin/farsight" run --help | grep -q "default $I/share/farsight/models/default.fsm")
	check "make install: the installed tree runs from / with the default model; man page" $? \
		"$(head -3 "$TMP/i.err")"
else
	check "make install" 1 "$(tail -3 "$TMP/inst.log")"
fi

finish
