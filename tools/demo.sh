#!/usr/bin/env bash
# The README's first command: PageRank (GAP-style Kronecker graph, size small) run with
# all its memory local, then with half of it local (the rest in the embedded far-memory
# backend: 5 us latency, 25 Gbit/s) under each prefetcher, the learned model included.
# Prints one screen: footprint, budget, plain time, each prefetcher's time and slowdown,
# a conclusion, and the picture's path.  Takes about 2 minutes here (2 vCPUs).
set -euo pipefail
cd "$(dirname "$0")/.."
out=${DEMO_OUT:-out/demo}
BUILD=${BUILD:-build}
echo "farsight demo: pagerank with 50% of its memory local; prefetchers none, readahead, hermit"
echo "and farsight (the shipped model).  About 2 minutes; the bench's progress follows."
"$BUILD"/farsight bench --workloads pagerank --size small --ratios 50 \
	--prefetch none,readahead,hermit,farsight --models models/default.fsm --reps 1 --out "$out"
echo
tools/demo-summary.py "$out/results.csv" "$out/pagerank.png"
