/*
 * replay.h - deterministic replay of a trace through a prefetcher policy (internal;
 * used by `farsight eval` and the bench harness).
 *
 * The simulated machine: a local cache of N pages with LRU replacement, fed by the
 * trace's pages in order.  A page not in the cache is a demand miss (fetched, inserted
 * at the MRU end).  A page in the cache that was prefetched and not touched yet is a
 * prefetch hit; it is "late" if it was issued fewer than `delay` events earlier (its
 * fetch would still be in flight: the delay models fetch latency in units of fault
 * events).  Other cache hits are silent, as a mapped page is at run time.  The policy
 * sees what it would see at run time: misses (FS_EV_MISS) and first touches of
 * prefetched pages (FS_EV_HIT), never silent hits; its candidates that are not already
 * in the cache are inserted as prefetched pages at the MRU end.  A prefetched page
 * evicted untouched is wasted.  No clock is involved, so a replay is exactly
 * repeatable.
 *
 * With `arrival.map` (prefetch_map direct, or auto for hermit and farsight) the
 * runtime maps a prefetched page when it arrives, so its first touch is a hit the
 * policy does not see; it is told of an assumed hit (FS_EVF_ASSUMED) at arrival
 * instead.  Replay models that: a prefetched page arrives at once (a replay has no
 * time; `delay` still decides which hits count as late), the policy gets the assumed
 * hit, and for a policy that chains (farsight) the candidates of that assumed hit are
 * prefetched too, up to `arrival.chain_depth` assumed hits past the event,
 * through the driver the pager uses (prefetch/driver.h); the touch that follows is a
 * prefetch hit, silent to the policy, except on a stream's tripwire (never mapped on
 * arrival, so its touch is an event, as at run time).  `arrival.front` is not
 * modelled: such pages enter at MRU as every other.
 * The runtime reclaims in batches between watermarks, so a page queued first in line
 * lives until the next batch; an LRU cache without a free reserve would evict it at
 * the very next insertion, which would misstate hermit (a test showed 1,263 of its
 * 1,365 prefetches wasted on mcf tiny at 30%, against 121 with faults on first touch).
 */
#ifndef FS_REPLAY_H
#define FS_REPLAY_H

#include "prefetch/policy.h"

typedef struct fs_replay_opts {
	uint64_t cache_pages;  /* N; at least 1 */
	uint32_t delay_events; /* a prefetch arrives this many events after issue */
	fs_arrival arrival;    /* zero: faults on first touch (fs_policy_arrival) */
} fs_replay_opts;

typedef struct fs_replay_result {
	uint64_t events;        /* trace events replayed */
	uint64_t misses;        /* demand misses */
	uint64_t resident;      /* silent hits on demand-fetched pages still cached */
	uint64_t hits;          /* prefetch hits (first touch of a prefetched page) */
	uint64_t late_hits;     /* ... of which arrived late */
	uint64_t prefetches;    /* pages prefetched (candidates not already cached) */
	uint64_t wasted;        /* prefetched pages evicted untouched */
	uint64_t unused_at_end; /* prefetched pages untouched when the trace ended */
	uint64_t candidates;    /* candidates returned by the policy, before dedupe */
	double precision;       /* hits / prefetches */
	double coverage;        /* hits / (hits + misses) */
	double timeliness;      /* (hits - late_hits) / hits */
	uint64_t policy_mem_bytes;
	double policy_ns_per_event;
} fs_replay_result;

int fs_replay(fs_policy *p, const fs_event *ev, size_t n, const fs_replay_opts *o,
	      fs_replay_result *r);

/* Distinct pages of a trace (its footprint), for sizing the cache as a fraction. */
uint64_t fs_trace_footprint(const fs_event *ev, size_t n);

#endif
