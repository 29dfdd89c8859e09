#!/usr/bin/env bash
# The README's first command: PageRank (GAP-style, a 256 MiB Kronecker graph) run
# all-local, then with only 25% and 50% of its memory local (the rest in the embedded
# far-memory backend: 5 us latency, 25 Gbit/s), without prefetching and with Linux-style
# readahead.  Prints the report: time relative to all-local, prefetch hits, accuracy,
# coverage, and whether every result matched the all-local checksum.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${DEMO_OUT:-out/demo}
BUILD=${BUILD:-build}
echo "farsight demo: pagerank (size small) at 25% and 50% local memory, prefetch none vs readahead"
echo "(about a minute; results in $out/)"
"$BUILD"/farsight bench --workloads pagerank --size small --ratios 25,50 \
	--prefetch none,readahead --reps 1 --out "$out"
echo
cat "$out/report.md"
