#!/usr/bin/env bash
# fuzz-memd.sh - fuzz memd's request parser and store (fuzz/memd_fuzz.c) for a bounded
# time.  Usage: tools/fuzz-memd.sh [SECONDS] (default 60).  Exit 0 when no crash was
# found; a crash leaves its input as build/fuzz/crash-* and exits non-zero.
# The corpus is seeded with valid handshakes and requests so the fuzzer starts deep.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-60}
make -s fuzz
corpus=build/fuzz/corpus-memd
mkdir -p "$corpus"
# Seeds: a hello followed by WRITE 1 page, READ it, DISCARD it, and an oversized READ.
python_free_seed() {
	local f=$1 op=$2 npages=$3
	{
		printf 'FSMD\x01\x00\x00\x00'; head -c 56 /dev/zero
		printf "\\x$op\\x00\\x00\\x00\\x$npages\\x00\\x00\\x00"; head -c 16 /dev/zero
		[ "$op" = 02 ] && head -c 4096 /dev/zero
		printf '\x01\x00\x00\x00\x01\x00\x00\x00'; head -c 16 /dev/zero
	} >"$corpus/$f"
}
python_free_seed seed-write 02 01
python_free_seed seed-discard 03 05
python_free_seed seed-big ff ff
echo "fuzz-memd: running build/fuzz/memd_fuzz for ${secs}s"
build/fuzz/memd_fuzz -max_total_time="$secs" -max_len=1100000 -rss_limit_mb=2048 \
	-artifact_prefix=build/fuzz/ -print_final_stats=1 "$corpus" 2>&1 | tail -n 25
