/*
 * runtime.h - the runtime's internal state, shared by runtime.c (start/stop, commands),
 * arena.c (address-space allocator), pager.c (fault handling), reclaim.c (local cache
 * and eviction) and stats.c.  Not part of the public API.
 *
 * The far-memory arena is one memfd (shmem) mapped twice:
 *   app   - the program's view, registered with userfaultfd (MISSING | MINOR | WP);
 *   alias - the runtime's view, never registered, through which backends read and
 *           write page contents directly.
 * A page can be in the page cache without being mapped in the app view: that is how
 * prefetched pages wait for their first touch, which then raises a cheap MINOR fault
 * that the pager counts as a prefetch hit and feeds to the prefetcher, the way a
 * swap-cache hit is a minor fault in the kernel.
 *
 * One pager thread owns every page-state transition (see pager.c for why one), so the
 * per-page state needs no lock; other threads only read it.  App threads reach the
 * pager through faults, and through a small command queue for free/discard.
 */
#ifndef FS_RUNTIME_H
#define FS_RUNTIME_H

#include "backend/backend.h"
#include "farsight.h"
#include "prefetch/policy.h"
#include "common/util.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <sys/types.h>

/* Page states (low 3 bits of the state byte). */
enum {
	PS_ZERO = 0,   /* not local, no far copy: first touch is a zero fill */
	PS_FAR = 1,    /* not local, the backend holds it */
	PS_FETCH = 2,  /* a backend read is in flight into the alias */
	PS_CACHED = 3, /* in the page cache, not mapped: prefetched and not yet touched, or
			* deactivated by the clock (second chance) */
	PS_MAPPED = 4, /* mapped, write-protected (clean) */
	PS_DIRTY = 5,  /* mapped and written since it was installed */
};
#define PS_MASK 0x07
#define PF_DIRTYDATA 0x08  /* CACHED after deactivation: contents newer than the far copy */
#define PF_PREFETCHED 0x10 /* brought in by a prefetch and not yet touched */
#define PF_WAITER 0x20     /* FETCH: a thread faulted on it and waits */
#define PF_WAITER_W 0x40   /* ... and that fault was a write */
#define PF_HASFAR 0x80     /* the backend holds a valid copy */

static inline int ps_is_local(uint8_t s)
{
	uint8_t k = s & PS_MASK;
	return k >= PS_FETCH;
}

/* Latency histogram: 0.25 us buckets up to 2 ms, then one overflow bucket. */
#define LAT_BUCKETS 8001
#define LAT_BUCKET_NS 250

struct fs_latency {
	_Atomic uint64_t count[LAT_BUCKETS];
};

/* Counters are written by the pager and read by fs_stats_get on any thread. */
struct fs_counters {
	_Atomic uint64_t faults, demand_fetches, zero_fills, wp_faults, prefetches_issued,
		prefetch_hits, late_hits, wasted_prefetches, evictions, writebacks, reactivations,
		prefetches_mapped,
		far_bytes_read, far_bytes_written, policy_ns, policy_events, peak_pages,
		policy_mem_bytes; /* the policy's metadata (future maps), published by the
				   * pager: the policy itself is the pager's alone */
};

/* A request from an app thread, carried out by the pager. */
struct fs_cmd {
	uint64_t page, npages;
};

#define FS_CMD_MAX 64
#define FS_MAX_THREADS 4096

struct fs_runtime {
	fs_config cfg;
	int uffd, memfd, wakefd;
	char *app, *alias;
	uint64_t npages;
	uint8_t *state; /* npages bytes, pager-owned */
	uint8_t *gen;   /* npages bytes: bumped when a page leaves the cache (FIFO staleness) */
	int have_wp;    /* UFFDIO_CONTINUE_MODE_WP works: exact dirty tracking */
	uint64_t start_ns;
	pid_t pid;

	/* Arena allocator (arena.c), used by app threads. */
	pthread_mutex_t alloc_mu;
	_Atomic uint64_t bump; /* pages [0, bump) have been handed out at some time */
	struct fs_extent *free_ext;
	size_t n_free_ext, cap_free_ext;

	/* Commands (runtime.c). */
	pthread_mutex_t cmd_mu;
	pthread_cond_t cmd_cv;
	struct fs_cmd cmds[FS_CMD_MAX];
	int n_cmds;
	uint64_t cmd_submitted, cmd_done;
	_Atomic int cmd_pending;

	/* Pager (pager.c). */
	pthread_t pager;
	_Atomic int stop;
	_Atomic int failed;
	char fatal[512];
	fs_backend *be;
	fs_policy *pol;
	int n_waiting;            /* FETCH pages with a thread waiting */
	int inflight_reads;       /* backend reads outstanding */
	pid_t tids[FS_MAX_THREADS]; /* app thread ids, index = event thread number */
	int n_tids;
	struct fs_waiter { /* pages a thread waits for, and since when (latency) */
		uint64_t page, since;
		int hit;
	} waiters[FS_MAX_THREADS];
	int n_waiters;
	/* Pages mapped on arrival, not yet fed to the prefetcher (pager.c, assumed_hits). */
#define FS_ASSUMED_MAX 1024
	struct fs_assumed {
		uint64_t page;
		uint16_t thread;
		uint8_t depth;
	} assumed[FS_ASSUMED_MAX];
	int n_assumed;

	/* Local cache (reclaim.c). */
	uint64_t budget;  /* pages */
	uint64_t local;   /* pages in FETCH, CACHED, MAPPED or DIRTY */
	uint64_t free_low, free_high;
	int clock;                     /* reclaim = clock: second chance by unmapping */
	uint64_t base_free_low, base_free_high; /* the configured reserve */
	int adaptive;                  /* size the reserve by the fault rate (Hermit) */
	fs_arrival arrival;            /* prefetched pages: mapped on arrival? chained? where queued */
	uint64_t rate_window_start, rate_window_faults;
	double fault_rate_ewma;        /* faults per ms */
	/* Two queues of (page | gen << 56) (reclaim.c): the active list (mapped pages) and
	 * the inactive list (pages in the page cache but unmapped: prefetched and not yet
	 * touched, or deactivated by the clock).  With reclaim=fifo all go to inactive. */
	struct fs_ring {
		uint64_t *e;
		uint64_t cap, head, tail;
	} active, inactive;
	uint64_t n_cached;  /* local pages in state CACHED (the inactive list's real size) */

	/* Trace recording. */
	pthread_mutex_t trace_mu;
	fs_trace_writer *trace;
	int trace_error;

	struct fs_counters c;
	struct fs_latency lat_demand, lat_hit;

	/* Where the statistics are published for `farsight run` (report.c). */
	struct fs_report *report;
	int report_slot, report_root;
	_Atomic int report_final;
	uint64_t report_last_ns, report_seen;
	char placement[256]; /* CPU placement, as the summary prints it */
	char command[256];   /* this process's command line */
	cpu_set_t cpus_before; /* affinity before cpus=auto pinned us (restored for threads) */
	_Atomic int pinned;    /* cpus=auto pinned the process to one CPU */
};

/* arena.c */
int fs_arena_init(fs_runtime *rt);
void fs_arena_fini(fs_runtime *rt);
void fs_arena_release(fs_runtime *rt, uint64_t page, uint64_t npages);

/* pager.c */
void *fs_pager_main(void *arg);
void fs_pager_land(fs_runtime *rt, const fs_io_done *done, int n);
void fs_pager_fatal(fs_runtime *rt, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* reclaim.c */
int fs_cache_init(fs_runtime *rt);
void fs_cache_fini(fs_runtime *rt);
/* A page became local or changed state: queue it on the list its state belongs to. */
void fs_cache_push(fs_runtime *rt, uint64_t page);
void fs_cache_push_front(fs_runtime *rt, uint64_t page); /* first in line for reclaim */
/* Evict one batch towards want_free free pages: returns pages evicted, -1 when the
 * clock only deactivated pages this time, 0 when nothing is evictable. */
int fs_reclaim(fs_runtime *rt, uint64_t want_free);
void fs_reclaim_feedback(fs_runtime *rt, uint64_t now); /* adaptive reserve (Hermit); call only if rt->adaptive */
static inline uint64_t fs_cache_free(const fs_runtime *rt)
{
	return rt->local >= rt->budget ? 0 : rt->budget - rt->local;
}
void fs_cache_account_local(fs_runtime *rt, int64_t delta);
int fs_punch(fs_runtime *rt, uint64_t page, uint64_t npages);

/* stats.c */
/* fs_stats from counters and histograms (of a runtime, or of a report block). */
void fs_stats_compute(const struct fs_counters *c, const struct fs_latency *lat_demand,
		      const struct fs_latency *lat_hit, uint64_t budget_pages, double wall_seconds,
		      fs_stats *s);
void fs_latency_add(struct fs_latency *h, uint64_t ns);
double fs_latency_percentile(const struct fs_latency *h, double q);

#endif
