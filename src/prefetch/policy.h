/*
 * policy.h - the prefetcher policy interface (internal).
 *
 * A policy sees the event stream that reaches far memory (misses, and first touches of
 * prefetched pages, as fs_event) and answers each event with candidate pages to fetch,
 * most urgent first.  The pager de-duplicates candidates against pages already local
 * or in flight, drops pages that were never written (they are zero-filled locally) and
 * pages outside the arena, and issues the rest asynchronously after the demand fetch.
 *
 * The same interface serves the runtime and `farsight eval`'s deterministic replay, so
 * a policy must not look at the clock: everything it knows comes from the events.
 */
#ifndef FS_POLICY_H
#define FS_POLICY_H

#include "farsight.h"

typedef struct fs_policy fs_policy;

typedef struct fs_policy_ops {
	const char *name;
	const char *help; /* one line for --help */
	/* Create an instance.  cfg carries readahead_max, lookahead, trace, model, ... */
	int (*create)(const fs_config *cfg, fs_policy **out, char *err, size_t errlen);
	/* One event in, up to max candidate pages out; returns the count. */
	int (*on_event)(fs_policy *p, const fs_event *ev, uint64_t *out, int max);
	/* Bytes of predictor metadata (future maps), for fs_stats; may be NULL. */
	uint64_t (*mem_bytes)(fs_policy *p);
	void (*destroy)(fs_policy *p);
	/* Optional (may be NULL): a policy's run-time error channel, since on_event has
	 * none.  Returns FS_OK, or FS_EINVAL with one sentence in err saying what went
	 * wrong (e.g. the oracle's trace does not match the live event stream).  The
	 * runtime calls it at exit and prints the sentence. */
	int (*status)(fs_policy *p, char *err, size_t errlen);
	/* What the policy asks of the runtime around it (FS_POLICY_RT_*). */
	uint32_t runtime_flags;
} fs_policy_ops;

/* Set by the runtime before it creates its policy: the FNV-1a of this process's argv
 * (as /proc/self/cmdline has it), which the oracle compares with its trace's header to
 * know whether the trace is a recording of this program.  0 outside a runtime (replay). */
extern uint64_t fs_policy_live_command_hash;

/* Size the free-page reserve (reclaim watermarks) by feedback from the fault rate, as
 * Hermit sizes its reclaim work; see reclaim.c. */
#define FS_POLICY_RT_ADAPTIVE_RECLAIM 1u
/* Map prefetched pages as they arrive (Hermit's swap-cache bypass), whatever the
 * prefetch_map setting says. */
#define FS_POLICY_RT_MAP_PREFETCHED 2u
/* The policy predicts onward from hits (it steps on every event): a page mapped on
 * arrival is fed to it as an assumed hit whose candidates are issued as well, up to
 * `chain_depth` such steps past the last real event, and the page is queued as in use
 * (back of the active list), since the policy has bet that the program goes through
 * it.  Without this flag an assumed hit only updates the policy's state and the page
 * is first in line for the clock.  See pager.c, assumed_hits. */
#define FS_POLICY_RT_CHAIN 4u

struct fs_policy {
	const fs_policy_ops *ops;
};

/* Look a policy up by name; NULL if unknown. */
const fs_policy_ops *fs_policy_find(const char *name);
/* The policy of the prefetch setting's value (fs_prefetch_kind); NULL if out of range. */
const fs_policy_ops *fs_policy_get(uint32_t kind);
/* Names of all policies, NULL-terminated, for help and error messages. */
const char *const *fs_policy_names(void);
/* Create by name, with an error that lists the known names. */
int fs_policy_create(const fs_config *cfg, fs_policy **out, char *err, size_t errlen);

/* What happens to a policy's prefetched pages, from the prefetch_map (its `auto`
 * resolved by the policy's runtime flags), arrival_place and chain_depth settings.
 * The one reading of them, for the runtime and for replay (`farsight eval`), so both
 * model the same. */
typedef struct fs_arrival {
	int map;   /* mapped on arrival, the policy told of an assumed hit (else: a fault
		    * on first touch, seen as FS_EV_HIT) */
	int chain; /* FS_POLICY_RT_CHAIN: candidates of assumed hits are issued too */
	int front; /* pages mapped on arrival first in line for reclaim (else in use) */
	uint32_t chain_depth; /* assumed hits a chain runs past a real event (0-7; 0 unless
			       * map and chain) */
	uint32_t stream_max;  /* the longest run the driver follows a stream with (pages;
			       * 0: it does not follow streams; prefetch/driver.h) */
} fs_arrival;
/* *a filled from cfg's checked values (fs_config_check); FS_OK. */
int fs_policy_arrival(const fs_config *cfg, const fs_policy_ops *ops, fs_arrival *a,
		      char *err, size_t errlen);
/* The assumed hit of a page mapped on arrival, on the thread whose prediction fetched
 * it: a hit the program did not raise (FS_EVF_ASSUMED).  The runtime and replay tell
 * the policy of it in the same form. */
static inline fs_event fs_assumed_event(uint64_t page, uint64_t time_ns, uint16_t thread)
{
	return (fs_event){ .page = page,
			   .time_ns = time_ns,
			   .thread = thread,
			   .kind = FS_EV_HIT,
			   .flags = FS_EVF_ASSUMED };
}

#define FS_POLICY_MAX_CANDIDATES 64

#endif
