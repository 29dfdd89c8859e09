#!/usr/bin/env bash
# test_workloads.sh - every workload is deterministic and gives the same result under
# far memory as all-local.
#
#  1. each workload at --size tiny, run twice (pagerank and sssp on both graph kinds),
#     prints the same "checksum:" line both times; bad usage exits 2 with a message;
#  2. once `farsight run` works: each workload under `farsight run --local-mem <10% of
#     its footprint> --prefetch P` gives the all-local checksum, for every prefetcher P
#     the runtime knows (its list comes from the runtime's own error message for an
#     unknown prefetcher).  The footprint is local_mem_peak_bytes of an all-local run
#     under farsight (huge budget, --prefetch none).  oracle replays a trace recorded
#     at the same budget; farsight needs a model file models/<workload>*.fsm and is
#     skipped, with a message, without one.
#  Until `farsight run` exists, part 2 is skipped with a message (exit 0).
set -u
. "$(dirname "$0")/lib.sh"
WL_BIN=$(dirname "$FARSIGHT_BIN")/farsight-workloads
WORKLOADS="mcf xgboost pagerank sssp"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails+1)); }

checksum_of() { sed -n 's/^checksum: \([0-9a-f]\{16\}\)$/\1/p' "$1" | tail -n1; }

# run_wl OUT ARGS... : farsight workload ARGS, stdout to OUT; returns its status
run_wl() { local out=$1; shift; "$FARSIGHT_BIN" workload "$@" >"$out" 2>"$out.err"; }

# ---- 1. determinism and usage -------------------------------------------------------
declare -A base
for w in $WORKLOADS; do
	graphs="kron"; case $w in pagerank|sssp) graphs="kron urand";; esac
	for g in $graphs; do
		args=("$w" --size tiny --seed 3); [ "$g" = urand ] && args+=(--graph urand)
		run_wl "$tmp/a" "${args[@]}" || { fail "$w ($g) exited $?: $(tail -n3 "$tmp/a.err")"; continue; }
		run_wl "$tmp/b" "${args[@]}" || { fail "$w ($g) second run exited $?"; continue; }
		a=$(checksum_of "$tmp/a"); b=$(checksum_of "$tmp/b")
		[ -n "$a" ] || { fail "$w ($g) printed no checksum line"; continue; }
		[ "$a" = "$b" ] || fail "$w ($g) checksums differ between runs: $a vs $b"
		[ "$(tail -n1 "$tmp/a")" = "checksum: $a" ] || fail "$w: checksum is not the last line"
		grep -q '^footprint: ' "$tmp/a.err" || fail "$w: no footprint line on stderr"
		[ "$g" = kron ] && base[$w]=$a
	done
	echo "ok   $w deterministic (checksum ${base[$w]:-?})"
done
# a different seed must give a different input, hence a different checksum
run_wl "$tmp/c" pagerank --size tiny --seed 4 && [ "$(checksum_of "$tmp/c")" != "${base[pagerank]:-}" ] ||
	fail "pagerank --seed 4 gave the same checksum as --seed 3"
"$FARSIGHT_BIN" workload --list >"$tmp/list" || fail "workload --list failed"
[ "$(grep -cE '^(mcf|xgboost|pagerank|sssp) ' "$tmp/list")" = 4 ] || fail "--list does not name the four workloads"
for bad in "nosuch" "pagerank --size huge" "sssp --graph grid" "mcf --seed x" ""; do
	# shellcheck disable=SC2086
	"$FARSIGHT_BIN" workload $bad >/dev/null 2>"$tmp/err"; rc=$?
	[ $rc = 2 ] || fail "'workload $bad' exited $rc, want 2"
	[ -s "$tmp/err" ] || fail "'workload $bad' printed no error"
done
echo "ok   usage errors exit 2"

# ---- 2. far memory gives the same results -----------------------------------------
if ! "$FARSIGHT_BIN" run --help >/dev/null 2>&1; then
	echo "FAIL \`farsight run --help\` fails, so the far-memory checks cannot run: $("$FARSIGHT_BIN" run --help 2>&1 | head -n1)"
	exit 1
fi

# The runtime's list of prefetchers, from its message for an unknown one.
"$FARSIGHT_BIN" run --prefetch no-such-prefetcher -- true >/dev/null 2>"$tmp/perr"
policies=$(sed -n 's/.* one of:* \(.*\)$/\1/p' "$tmp/perr" | head -n1 | sed 's/ or / /; s/,//g')
[ -n "$policies" ] || { echo "FAIL could not read the prefetcher list from: $(head -n1 "$tmp/perr")"; exit 1; }
echo "prefetchers: $policies"

json_num() { sed -n "s/.*\"$2\": *\([0-9.eE+-]*\).*/\1/p" "$1" | head -n1; }

for w in $WORKLOADS; do
	args=("$w" --size tiny --seed 3)
	"$FARSIGHT_BIN" run --quiet --local-mem 8G --prefetch none --stats-json "$tmp/all.json" \
		-- "$FARSIGHT_BIN" workload "${args[@]}" >"$tmp/o" 2>"$tmp/o.err" ||
		{ fail "$w under farsight (all local) exited $?: $(tail -n3 "$tmp/o.err")"; continue; }
	[ "$(checksum_of "$tmp/o")" = "${base[$w]}" ] || fail "$w all-local under farsight: checksum $(checksum_of "$tmp/o") != ${base[$w]}"
	foot=$(json_num "$tmp/all.json" local_mem_peak_bytes)
	[ -n "$foot" ] && [ "${foot%.*}" -gt 0 ] || { fail "$w: no local_mem_peak_bytes in the stats JSON"; continue; }
	budget=$(( ${foot%.*} / 10 )); [ $budget -lt 262144 ] && budget=262144
	for p in $policies; do
		extra=(); cmd=("$FARSIGHT_BIN" workload)
		case $p in
		oracle)
			# The oracle replays a trace only into the command line it was recorded
			# from; `farsight workload` execs farsight-workloads, so the runtime of the
			# first image would see another command: record and replay the program itself.
			"$FARSIGHT_BIN" run --quiet --local-mem $budget --prefetch none --record "$tmp/$w.trace" \
				-- "$WL_BIN" "${args[@]}" >/dev/null 2>"$tmp/r.err" ||
				{ fail "$w: recording a trace for oracle failed: $(tail -n3 "$tmp/r.err")"; continue; }
			extra=(--trace "$tmp/$w.trace"); cmd=("$WL_BIN");;
		farsight)
			model=$(ls models/"$w"*.fsm 2>/dev/null | head -n1)
			[ -n "$model" ] || { echo "SKIP $w with farsight: no model models/$w*.fsm"; continue; }
			extra=(--model "$model");;
		esac
		"$FARSIGHT_BIN" run --quiet --local-mem $budget --prefetch "$p" "${extra[@]}" \
			-- "${cmd[@]}" "${args[@]}" >"$tmp/f" 2>"$tmp/f.err" ||
			{ fail "$w with --prefetch $p at $budget bytes exited $?: $(tail -n3 "$tmp/f.err")"; continue; }
		got=$(checksum_of "$tmp/f")
		if [ "$got" = "${base[$w]}" ]; then echo "ok   $w --prefetch $p --local-mem $budget (footprint $foot)"
		else fail "$w with --prefetch $p at $budget bytes: checksum '$got' != all-local ${base[$w]}"; fi
	done
done
[ $fails = 0 ] && echo "all checks passed"
exit $((fails > 0))
