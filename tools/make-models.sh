#!/usr/bin/env bash
# Reproduces models/*.fsm from scratch (`make models`; a few minutes; not run by CI).
#
# For each workload, records the event stream of size-tiny runs under the runtime at a
# fixed local-memory budget (about 25% of the footprint) with --prefetch readahead, so
# the stream holds misses *and* first touches of prefetched pages, as it does when
# farsight itself prefetches.  Inputs: seeds 2-4, and for the graph workloads both
# graph generators (kron, urand); the bench uses --seed 1, so no model has seen a bench
# input.  Then trains, with fixed seeds:
#   models/<workload>.fsm  on that workload's traces (what `farsight bench --models
#                          models` picks: DIR/<workload>.fsm)
#   models/default.fsm     on all four workloads' traces (the policy's default)
# Training is single-threaded and clock-free, so the same traces give the same files; the
# traces themselves depend on when asynchronous prefetches complete, so a fresh recording
# gives a model of the same recipe, not necessarily the same bytes.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${FARSIGHT_BIN:-build/farsight}
REC_BIN=${FARSIGHT_RECORD_BIN:-$BIN} # the runtime that records (default: the same)
OUT=${MODELS_DIR:-models}
# A fixed path: train stores its command line (with the trace paths) in the model's
# note, so a random temporary name would make every rebuild differ.
TMP=build/model-traces
rm -rf "$TMP" && mkdir -p "$TMP"
[ -x "$BIN" ] || { echo "make-models: $BIN not found; run make first" >&2; exit 1; }
mkdir -p "$OUT"

# workload:budget (25% of the tiny footprint: local_mem_peak_bytes of an all-local run)
PLAN="mcf:320K xgboost:10M pagerank:288K sssp:480K"
TRAIN_OPTS="--epochs 2 --max-windows 4000 --seed 1"
all=()
for wb in $PLAN; do
	w=${wb%%:*}; b=${wb#*:}
	graphs=kron
	case $w in pagerank|sssp) graphs="kron urand" ;; esac
	traces=()
	for g in $graphs; do
		for s in 2 3 4; do
			t="$TMP/$w-$g-$s.trace"
			gopt=()
			case $w in pagerank|sssp) gopt=(--graph "$g") ;; esac
			echo "make-models: recording $w seed $s${gopt:+ graph $g} at $b" >&2
			# a size-tiny run takes seconds; a stuck one fails the script, not hangs it
			# --reclaim fifo: the reclaim the shipped models were recorded with (and the
			# clock reclaim hangs at these budgets, docs/TUNING.md)
			timeout -s KILL 300 "$REC_BIN" run --local-mem "$b" --reclaim fifo --prefetch readahead \
				--quiet --record "$t" -- "$REC_BIN" workload "$w" --size tiny \
				--seed "$s" "${gopt[@]}" >/dev/null ||
				{ echo "make-models: recording $w seed $s failed or timed out" >&2; exit 1; }
			traces+=(--trace "$t")
		done
	done
	all+=("${traces[@]}")
	echo "make-models: training $OUT/$w.fsm" >&2
	"$BIN" train "${traces[@]}" --out "$OUT/$w.fsm" $TRAIN_OPTS
done
echo "make-models: training $OUT/default.fsm (all workloads)" >&2
"$BIN" train "${all[@]}" --out "$OUT/default.fsm" $TRAIN_OPTS
echo "make-models: wrote $(ls "$OUT"/*.fsm | tr '\n' ' ')" >&2
