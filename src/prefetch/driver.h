/*
 * driver.h - the one path from events to a prefetcher's candidates (internal), used by
 * the pager (src/runtime/pager.c) and by replay (src/trace/replay.c), so that `farsight
 * eval` replays exactly the calls the runtime makes.
 *
 * Two kinds of input:
 *   - an event the program raised (a miss, or a fault on a prefetched page): the policy
 *     is asked for candidates; they are issued at chain depth 0;
 *   - a page mapped on arrival (prefetch_map direct, or auto for hermit and farsight):
 *     its first touch will raise no fault, so the policy is told of an assumed hit
 *     (FS_EVF_ASSUMED) on the thread whose prediction fetched it.  For a policy that
 *     chains (FS_POLICY_RT_CHAIN, the FarSight model), the assumed hits wait in arrival
 *     order and each one's candidates are issued at its request's depth + 1, while that
 *     depth is below `chain_depth`: its predictions keep running ahead of the program
 *     through the pages it fetched, and a wrong guess cannot run away, since a chain
 *     ends `chain_depth` assumed hits past the last real event.  Past that depth, and
 *     for policies that do not chain, the policy only learns of the hit.
 * The caller issues the candidates and later reports the pages that were mapped on
 * arrival (fs_driver_arrived); fs_driver_next then hands out the next queued assumed
 * hit's candidates.  The caller's order of those calls is the only thing the pager and
 * replay do differently (the pager interleaves them with the backend's completions).
 *
 * Streams.  A page mapped on arrival raises no fault, so a policy that predicts on
 * faults (readahead, leap) would see a sequential run it started end in a demand miss
 * every window, and fetch each window only when the program is already waiting.  The
 * driver follows such runs itself, for every policy, as the kernel's file readahead
 * does with its PG_readahead mark: the first page of every run of at least
 * FS_STREAM_MIN contiguous candidates is a tripwire (FS_CAND_TRIPWIRE: fetched but left
 * unmapped on arrival), and when the program touches it (a prefetch hit, late or not)
 * the driver issues the run that follows the one the tripwire opened, twice as long,
 * up to arrival.stream_max pages, whose first page is the next tripwire.  So a stream is
 * always a run ahead of the program, at the cost of one minor fault per run; a
 * stream the program leaves ends there, its last run unused.
 *
 * The driver also keeps the policy's time: every call is timed, and ns_per_event
 * divides it by the events the program raised, so it covers a chain's steps.
 */
#ifndef FS_DRIVER_H
#define FS_DRIVER_H

#include "prefetch/policy.h"

#include <stdatomic.h>

#define FS_DRIVER_QUEUE 1024 /* assumed hits waiting; beyond it the policy only learns */
#define FS_STREAM_MIN 4      /* contiguous candidates that make a run a stream */
#define FS_STREAM_SLOTS 1024 /* streams followed at once (a direct-mapped table) */
/* Set on a candidate that is a stream's tripwire: fetch it, never map it on arrival. */
#define FS_CAND_TRIPWIRE (1ull << 63)
#define FS_CAND_PAGE(c) ((c) & ~FS_CAND_TRIPWIRE)

/* Sees every call of the driver that reaches the policy: its input, the chain depth
 * its candidates will be issued at (depth 0 for a real event), and the candidates the
 * driver hands out (streams' runs and tripwire marks included; none when the policy
 * only learned).  For
 * tests and tracing; set with atomic_store, since the driver runs on the pager. */
typedef void (*fs_driver_observer)(void *arg, const fs_event *ev, uint32_t depth,
				   const uint64_t *cand, int n);

typedef struct fs_driver {
	fs_policy *pol;
	fs_arrival arrival;
	uint64_t policy_ns;     /* time spent in the policy, all calls */
	uint64_t events;        /* events the program raised */
	uint64_t calls;         /* policy calls, assumed hits included */
	struct fs_assumed {
		uint64_t page, time_ns;
		uint16_t thread;
		uint8_t depth;
	} q[FS_DRIVER_QUEUE];
	uint32_t head, n;
	struct fs_stream {
		uint64_t trip;  /* the tripwire page + 1 (0: free slot) */
		uint64_t next;  /* the first page of the run that follows */
		uint32_t len;   /* the length of the run the tripwire opened */
		int8_t dir;     /* +1 ascending, -1 descending */
	} streams[FS_STREAM_SLOTS];
	uint64_t stream_runs;   /* runs issued by following streams */
	_Atomic(fs_driver_observer) observe;
	void *_Atomic observe_arg;
} fs_driver;

void fs_driver_init(fs_driver *d, fs_policy *pol, const fs_arrival *arrival);

/* An event the program raised: up to max candidates (chain depth 0) into out. */
int fs_driver_event(fs_driver *d, const fs_event *ev, uint64_t *out, int max);

/* A page mapped on arrival, fetched by a request of chain depth `depth` on `thread`:
 * queued as an assumed hit for fs_driver_next (a chaining policy), or told to the
 * policy now (no chain, or the queue is full). */
void fs_driver_arrived(fs_driver *d, uint64_t page, uint16_t thread, uint32_t depth,
		       uint64_t time_ns);

/* The next queued assumed hit that continues a chain: returns 1 with its candidates
 * in out (*n of them, to issue at *depth on *thread), 0 when none is queued.  Queued
 * hits at the chain's end are told to the policy on the way (it only learns). */
int fs_driver_next(fs_driver *d, uint64_t *out, int max, int *n, uint32_t *depth,
		   uint16_t *thread);

/* Policy time per event the program raised, chain steps included. */
static inline double fs_driver_ns_per_event(const fs_driver *d)
{
	return d->events ? (double)d->policy_ns / (double)d->events : 0.0;
}

#endif
