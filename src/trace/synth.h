/*
 * synth.h - synthetic fault traces for tests, training experiments and docs, until
 * (and beside) real traces from `farsight run --record` (internal).
 *
 * A trace "file name" of the form  synth:KIND[:SEED[:EVENTS]]  is generated in memory
 * instead of read; fs_trace_load() accepts both, so `farsight train/eval --trace
 * synth:bfs:3` works anywhere a trace path does.  Kinds (page-level access streams,
 * filtered through a small LRU of 32 pages so that, like a real fault stream, repeated
 * touches of recently used pages do not appear):
 *   seq     sequential scans of random length over random ranges of a 64K-page array
 *   stride  scans with a per-scan stride of 2..6 pages
 *   chase   pointer chasing over a fixed random graph (out-degree 1..4, edges followed
 *           with skewed probabilities), as in linked structures
 *   bfs     breadth-first search over a random graph in CSR form: offsets and edge
 *           arrays scanned, per-vertex data touched at random
 *   mix     two threads, one chasing and one scanning, interleaved
 * The SEED picks the graph / ranges (an "input" of the program); the same seed gives
 * the same trace.
 */
#ifndef FS_SYNTH_H
#define FS_SYNTH_H

#include "farsight.h"

int fs_synth_trace(const char *spec, fs_trace_info *info, fs_event **events, size_t *n,
		   char *err, size_t errlen);

#endif
