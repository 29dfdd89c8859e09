/*
 * runtime.h - the runtime's internal state, shared by runtime.c (start/stop, commands),
 * arena.c (address-space allocator), page.c (page states and their transitions),
 * pageops.c (their kernel side), pager.c (fault handling, the completion drain),
 * reclaim.c (victim choice, watermarks) and stats.c.  Not part of the public API.
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
 * One pager thread makes every page-state transition (see pager.c for why one), so
 * the per-page state needs no lock; other threads only read it.  App threads reach the
 * pager through faults, and through a small command queue for free/discard.
 */
#ifndef FS_RUNTIME_H
#define FS_RUNTIME_H

#include "backend/backend.h"
#include "common/util.h"
#include "farsight.h"
#include "prefetch/driver.h"
#include "prefetch/policy.h"
#include "runtime/page.h"

#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/types.h>

/* Latency histogram: 0.25 us buckets up to 2 ms, then one overflow bucket. */
#define LAT_BUCKETS 8001
#define LAT_BUCKET_NS 250

struct fs_latency {
	_Atomic uint64_t count[LAT_BUCKETS];
};

/* Counters are written by the pager and read by fs_stats_get on any thread.  Those
 * that count page-state transitions are kept by the page module (page.h). */
struct fs_counters {
	/* other_faults: faults on pages already mapped or being fetched (stats.c) */
	_Atomic uint64_t faults, demand_fetches, wp_faults, other_faults, prefetches_issued,
		far_bytes_read, far_bytes_written;
	_Atomic uint64_t promotions; /* late hits whose read was moved ahead of prefetches */
	/* The policy's time and metadata (future maps), published by the pager: the
	 * policy and its driver are the pager's alone. */
	_Atomic uint64_t policy_ns, policy_events, policy_mem_bytes;
	_Atomic uint64_t pager_cpu_ns; /* CPU time of the pager thread (fs_pager_cpu_publish) */
	struct fs_page_counts page;
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
	int uffd_shadow; /* a second reference to the userfaultfd: a raw dup2 onto uffd's
			  * number cannot release it (its faults wait for the pager, which
			  * notices and stops, instead of reading zeros): common/fds.h */
	char *app, *alias;
	uint64_t npages;
	fs_pages pages; /* page states, local-page counts, reclaim lists (page.h): pager-owned */
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
	fs_driver driver;         /* the policy's inputs and outputs (prefetch/driver.h) */
	int inflight_reads;       /* backend reads outstanding */
	pid_t tids[FS_MAX_THREADS]; /* app thread ids, index = event thread number */
	int n_tids;
	struct fs_waiter { /* FETCH pages a thread waits for, and since when (latency) */
		uint64_t page, since;
		int hit;
	} waiters[FS_MAX_THREADS];
	int n_waiters;
	/* Reclaim (reclaim.c): the watermarks of free local pages. */
	uint64_t free_low, free_high;
	uint64_t base_free_low, base_free_high; /* the configured reserve */
	int adaptive;                  /* size the reserve by the fault rate (Hermit) */
	uint64_t rate_window_start, rate_window_faults;
	double fault_rate_ewma;        /* faults per ms */
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

	/* Fork without exec (fork.c). */
	struct fs_fork_req {  /* the fork under way: prepare -> pager frozen -> parent */
		pthread_mutex_t mu;
		pthread_cond_t cv;
		int phase;        /* FS_FORK_* */
		pid_t pid;
		pid_t tid;                  /* the thread that forks */
		int memfd, pipe_r, pipe_w;  /* the child's arena; its hang-up pipe */
		_Atomic uint8_t *status;    /* per page: owed, taking, copying, done */
		const char *why;            /* set: the child cannot have far memory, why */
		sigset_t sigmask;           /* the forking thread's, blocked meanwhile */
		int sig_blocked;
	} fork;
	_Atomic int fork_pending;
	/* Odd from a fork's prepare until its parent or child handler (fork.c): the
	 * jemalloc hooks' calls then give up instead of waiting (fs_arena_alloc_nowait). */
	_Atomic unsigned fork_seq;
#define FS_FORK_MAX 64
	struct fs_fork_child { /* children still owed pages (the parent's pager) */
		pid_t pid;
		int memfd, pipe_r;
		_Atomic uint8_t *status;
	} children[FS_FORK_MAX];
	int n_children;
	uint64_t reap_ns;
	/* In a forked child: the parent's arena, read on first use of an inherited page. */
	_Atomic uint8_t *inherit_status;
	int inherit_fd, inherit_pipe_w;
};

enum { FS_FORK_IDLE, FS_FORK_WANTED, FS_FORK_FROZEN, FS_FORK_KEEP, FS_FORK_DROP };

/* arena.c */
int fs_arena_init(fs_runtime *rt);
void fs_arena_fini(fs_runtime *rt);

/* pageops.c: the page module's operations on the real arena (userfaultfd, madvise,
 * fallocate, backend writes). */
extern const fs_page_ops fs_arena_page_ops;

/* pager.c */
/* Start the pager thread (every signal blocked in it); FS_ENOMEM if it cannot be. */
int fs_pager_start(fs_runtime *rt);
/* Poll the backend (waiting up to timeout_ns for a first completion, <0 = as long as
 * needed), land what completed and finish the waits that ended.  The one place
 * completions are landed.  Returns how many completed. */
int fs_drain(fs_runtime *rt, int64_t timeout_ns);
void fs_pager_fatal(fs_runtime *rt, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Store the pager thread's CPU time so far into rt->c.pager_cpu_ns (any thread). */
void fs_pager_cpu_publish(fs_runtime *rt);
/* Stop the program (as fs_pager_fatal) if one of the runtime's descriptors was taken
 * by the program behind the shim's back (a raw close or dup2): before the runtime
 * writes through one, and when one behaves unlike itself. */
void fs_runtime_check_fds(fs_runtime *rt);
/* Stop the program (as fs_pager_fatal) if part of the arena was unmapped behind the
 * shim's back (a raw munmap): the reason an operation there failed. */
void fs_runtime_check_arena(fs_runtime *rt);
/* Wake the pager (a command is posted, or the runtime stops). */
void fs_runtime_wake(fs_runtime *rt);
/* The pager's side of fs_free/fs_discard (runtime.c posts, the pager runs). */
void fs_pager_run_commands(fs_runtime *rt);

/* reclaim.c */
void fs_reclaim_init(fs_runtime *rt);
/* Evict one batch towards want_free free pages: returns pages evicted, -1 when the
 * clock only deactivated pages this time, 0 when nothing is evictable. */
int fs_reclaim(fs_runtime *rt, uint64_t want_free);
void fs_reclaim_feedback(fs_runtime *rt, uint64_t now); /* adaptive reserve (Hermit); call only if rt->adaptive */

/* runtime.c */
int fs_runtime_open_uffd(fs_runtime *rt, int *wp, char *err, size_t errlen);

/* The shim's jemalloc extent hooks run under jemalloc's locks, which a fork's prepare
 * takes after ours (we freeze the pager first, and it may need jemalloc).  A hook that
 * waited for the allocator's lock or the pager while a fork holds them would deadlock
 * that fork, so these give up instead (NULL with errno EAGAIN; FS_EAGAIN): jemalloc
 * then keeps the extent (dalloc), leaves it unpurged (purge) or fails the allocation,
 * which the shim retries once the fork is done (fs_fork_wait). */
void *fs_arena_alloc_nowait(fs_runtime *rt, size_t bytes, size_t align);
int fs_free_nowait(fs_runtime *rt, void *addr, size_t bytes);
int fs_discard_nowait(fs_runtime *rt, void *addr, size_t bytes);
/* The allocator's lock; nowait: FS_EAGAIN rather than wait while a fork holds it. */
int fs_arena_lock(fs_runtime *rt, int nowait);
void fs_arena_release_locked(fs_runtime *rt, uint64_t page, uint64_t npages);
/* seq: fork_seq read before a far allocation that failed.  Returns 1 (after waiting
 * for the fork to be done) if a fork was under way meanwhile: retry the allocation. */
int fs_fork_wait(fs_runtime *rt, unsigned seq);

/* fork.c: see its comment.  The shim calls prepare/parent/child from its atfork
 * handlers; the pager calls serve when fork_pending is set, and reap now and then. */
int fs_fork_prepare(fs_runtime *rt);
void fs_fork_parent(fs_runtime *rt, pid_t child);
int fs_fork_child(fs_runtime *rt, char *err, size_t errlen);
void fs_fork_serve(fs_runtime *rt);
void fs_fork_reap(fs_runtime *rt);
void fs_fork_copy_out_slow(fs_runtime *rt, uint64_t page);
void fs_fork_take_slow(fs_runtime *rt, uint64_t page, int data);
void fs_fork_take_all(fs_runtime *rt);
/* Parent: before a page's content changes or it is dropped, copy it to every child
 * that still needs it as it was at the fork. */
static inline void fs_fork_copy_out(fs_runtime *rt, uint64_t page)
{
	if (rt->n_children)
		fs_fork_copy_out_slow(rt, page);
}
/* Forked child: before an inherited page is mapped or written back (data = 1) or
 * dropped (data = 0), make its content ours. */
static inline void fs_fork_take(fs_runtime *rt, uint64_t page, int data)
{
	if (rt->inherit_status)
		fs_fork_take_slow(rt, page, data);
}

/* stats.c */
/* fs_stats from counters and histograms (of a runtime, or of a report block). */
void fs_stats_compute(const struct fs_counters *c, const struct fs_latency *lat_demand,
		      const struct fs_latency *lat_hit, uint64_t budget_pages, double wall_seconds,
		      fs_stats *s);
void fs_latency_add(struct fs_latency *h, uint64_t ns);
double fs_latency_percentile(const struct fs_latency *h, double q);

#endif
