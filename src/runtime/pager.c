/*
 * pager.c - the fault handler: one thread that serves userfaultfd faults, lands
 * backend completions, issues prefetches and runs reclaim.
 *
 * Why one thread.  On this class of machine a fault served on the faulting thread's
 * own vCPU costs ~6 us, and one that must wake a thread on the other vCPU ~50 us
 * (docs/TUNING.md has the measurement).  A single pager that shares the CPU with the
 * program is both the fastest arrangement there and the simplest to get right: every
 * page-state transition has one owner, so there is no lock on the fault path and no
 * race between fault handling, prefetch landing and eviction.  `farsight run` places
 * the program and the pager on one CPU by default for that reason.
 *
 * The fault path, per batch of userfaultfd messages:
 *   1. demand misses are submitted to the backend first (FS_IO_DEMAND), so a demand
 *      page never waits behind a prefetch (FastSwap's rule);
 *   2. each event then goes to the prefetcher, whose candidates are de-duplicated
 *      against local and in-flight pages and issued asynchronously (FS_IO_PREFETCH),
 *      while the demand reads are in flight;
 *   3. completions are landed: a page someone waits for is mapped (UFFDIO_CONTINUE),
 *      a prefetched page stays in the page cache, unmapped, until its first touch
 *      raises a minor fault - a prefetch hit that the prefetcher sees as an event;
 *   4. when free local pages fall below the low watermark, reclaim evicts a batch,
 *      between batches of faults, so it never delays a demand fault that is waiting.
 *
 * Pages are installed write-protected (UFFDIO_CONTINUE_MODE_WP) unless the fault was
 * a write; the first write to a clean page raises a WP fault that marks it dirty.  So
 * eviction writes back exactly the pages that were written.
 *
 * A backend failure is fatal for the program: the faulting thread cannot be given an
 * error, and a zero page in place of its data would be silent corruption.  The pager
 * prints what failed and ends the process with exit status 70 (EX_SOFTWARE).
 */
#include "runtime/runtime.h"
#include "runtime/report.h"

#include <errno.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#define MSG_BATCH 64
#define DONE_BATCH 256

/* Tags of backend reads, 64 bits: first page (40), run length - 1 (8), the event
 * thread whose prediction asked for it (12), its chain depth (3), prefetch (1).  The
 * thread and depth let a page mapped on arrival continue its thread's prediction
 * chain (prefetch/driver.h).  A write-back's tag is UINT64_MAX. */
static uint64_t make_tag(uint64_t page, uint32_t n, int prefetch, uint16_t thread, uint32_t depth)
{
	return page | ((uint64_t)(n - 1) << 40) |
	       ((uint64_t)(thread & (FS_MAX_THREADS - 1)) << 48) | ((uint64_t)(depth & 7) << 60) |
	       ((uint64_t)prefetch << 63);
}
_Static_assert(FS_MAX_THREADS == 1 << 12, "tags carry the thread in 12 bits");
static uint64_t tag_page(uint64_t t) { return t & ((1ull << 40) - 1); }
static uint32_t tag_npages(uint64_t t) { return (uint32_t)((t >> 40) & 0xff) + 1; }
static uint16_t tag_thread(uint64_t t) { return (uint16_t)((t >> 48) & (FS_MAX_THREADS - 1)); }
static uint32_t tag_depth(uint64_t t) { return (uint32_t)((t >> 60) & 7); }
#define TAG_WRITEBACK UINT64_MAX

void fs_pager_fatal(fs_runtime *rt, const char *fmt, ...)
{
	/* A descriptor taken by the program explains any failure that follows it (an
	 * ioctl on what is no longer a userfaultfd), and so does a hole the program
	 * unmapped in the arena (ENOMEM there): say that instead. */
	static _Atomic int checking;
	if (!atomic_exchange(&checking, 1)) {
		fs_runtime_check_fds(rt);
		fs_runtime_check_arena(rt);
	}
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(rt->fatal, sizeof(rt->fatal), fmt, ap);
	va_end(ap);
	atomic_store(&rt->failed, 1);
	fs_log(0, "%s", rt->fatal);
	fs_log(0, "stopping the program: its far-memory pages cannot be served "
		  "(exit status 70)");
	_exit(70);
}

void fs_pager_cpu_publish(fs_runtime *rt)
{
	clockid_t clk;
	struct timespec ts;
	if (atomic_load(&rt->stop))
		return; /* the pager may be gone: keep the last value */
	if (pthread_getcpuclockid(rt->pager, &clk) == 0 && clock_gettime(clk, &ts) == 0)
		atomic_store_explicit(&rt->c.pager_cpu_ns,
				      (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec,
				      memory_order_relaxed);
}

static void backend_failed(fs_runtime *rt, const char *what, int rc)
{
	fs_pager_fatal(rt, "far-memory backend '%s' failed %s: %s (%s)", rt->be->ops->name, what,
		       rt->be->errmsg[0] ? rt->be->errmsg : "no detail", fs_strerror(rc));
}

static void uffd_wake(fs_runtime *rt, uint64_t page)
{
	struct uffdio_range r = { .start = (uint64_t)(uintptr_t)rt->app + page * FS_PAGE_SIZE,
				  .len = FS_PAGE_SIZE };
	if (ioctl(rt->uffd, UFFDIO_WAKE, &r) && errno != ENOENT)
		fs_log(2, "UFFDIO_WAKE page %llu: %s", (unsigned long long)page, strerror(errno));
}

static uint16_t thread_index(fs_runtime *rt, pid_t tid)
{
	for (int i = 0; i < rt->n_tids; i++)
		if (rt->tids[i] == tid)
			return (uint16_t)i;
	if (rt->n_tids < FS_MAX_THREADS) {
		rt->tids[rt->n_tids] = tid;
		return (uint16_t)rt->n_tids++;
	}
	return FS_MAX_THREADS - 1;
}

static void record(fs_runtime *rt, const fs_event *ev)
{
	if (!rt->cfg.record[0])
		return;
	pthread_mutex_lock(&rt->trace_mu);
	if (rt->trace && !rt->trace_error && fs_trace_append(rt->trace, ev)) {
		rt->trace_error = 1;
		fs_log(0, "cannot write the trace %s; recording stopped", rt->cfg.record);
	}
	pthread_mutex_unlock(&rt->trace_mu);
}

/* ---- landing completions ------------------------------------------------------------ */

static void land_read(fs_runtime *rt, const fs_io_done *d)
{
	if (d->status) {
		char what[96];
		snprintf(what, sizeof(what), "to read pages %llu+%u",
			 (unsigned long long)tag_page(d->tag), tag_npages(d->tag));
		backend_failed(rt, what, d->status);
	}
	rt->inflight_reads--;
	uint64_t arrived[FS_IO_MAX_PAGES];
	int na = fs_page_land(&rt->pages, tag_page(d->tag), tag_npages(d->tag),
			      rt->driver.arrival.map, arrived);
	/* Pages mapped on arrival: their first touch raises no fault, so the prefetcher
	 * is told of each as an assumed hit now (prefetch/driver.h). */
	uint64_t now = fs_now_ns() - rt->start_ns;
	for (int k = 0; k < na; k++)
		fs_driver_arrived(&rt->driver, arrived[k], tag_thread(d->tag), tag_depth(d->tag), now);
}

/* Record the latency of waits that have ended (their page is mapped now). */
static void finish_waiters(fs_runtime *rt)
{
	uint64_t now = fs_now_ns();
	for (int i = 0; i < rt->n_waiters;) {
		uint8_t k = fs_page_state(&rt->pages, rt->waiters[i].page) & PS_MASK;
		if (k == PS_FETCH) {
			i++;
			continue;
		}
		fs_latency_add(rt->waiters[i].hit ? &rt->lat_hit : &rt->lat_demand,
			       now - rt->waiters[i].since);
		rt->waiters[i] = rt->waiters[--rt->n_waiters];
	}
}

int fs_drain(fs_runtime *rt, int64_t timeout_ns)
{
	if (rt->be->ops->inflight(rt->be) == 0)
		return 0;
	fs_io_done done[DONE_BATCH];
	int got = rt->be->ops->poll(rt->be, done, DONE_BATCH, timeout_ns);
	if (got < 0)
		backend_failed(rt, "while polling for completions", got);
	for (int i = 0; i < got; i++) {
		if (done[i].tag != TAG_WRITEBACK)
			land_read(rt, &done[i]);
		else if (done[i].status)
			backend_failed(rt, "to write back", done[i].status);
	}
	if (got)
		finish_waiters(rt);
	return got;
}

/* ---- issuing reads -------------------------------------------------------------------- */

static void submit_reads(fs_runtime *rt, fs_io *ios, int n);

/* The demand reads of the batch of faults being handled, not yet submitted. */
struct demand_batch {
	fs_io io[64];
	int n;
};

/* Make room for n more local pages, evicting synchronously if the budget is full.
 * When nothing is evictable, every local page is a read in flight or one of this
 * batch's demand reads still to be submitted (more threads faulting at once than the
 * budget has pages): the batch is submitted now, so that its reads land, their threads
 * run and their pages become evictable.  The budget only runs out when no read can
 * be issued or landed at all. */
static void reserve_pages(fs_runtime *rt, uint64_t n, struct demand_batch *batch)
{
	while (fs_pages_free(&rt->pages) < n) {
		/* -1: the clock only deactivated pages this pass; the next pass evicts. */
		if (fs_reclaim(rt, n) != 0)
			continue;
		if (batch->n) {
			submit_reads(rt, batch->io, batch->n);
			batch->n = 0;
		}
		if (fs_drain(rt, 1000000) == 0 && rt->inflight_reads == 0)
			fs_pager_fatal(rt, "local budget of %llu pages is too small: every one is "
					   "in use and none can be freed",
				       (unsigned long long)rt->pages.budget);
	}
}

static void submit_reads(fs_runtime *rt, fs_io *ios, int n)
{
	for (int off = 0; off < n;) {
		int rc = rt->be->ops->submit_read(rt->be, ios + off, n - off);
		if (rc < 0)
			backend_failed(rt, "to take a read", rc);
		off += rc;
		if (off < n) /* queue full: land some completions first */
			fs_drain(rt, -1);
	}
	for (int i = 0; i < n; i++)
		atomic_fetch_add_explicit(&rt->c.far_bytes_read,
					  (uint64_t)ios[i].npages * FS_PAGE_SIZE, memory_order_relaxed);
	rt->inflight_reads += n;
}

/* Issue candidates as prefetches, at chain depth `depth` on `thread`.  Candidates are
 * dropped when outside the arena in use, ZERO (a zero fill is local and cheap), local
 * or in flight; contiguous ones become one backend request.  Prefetches use free pages
 * but never force an eviction: reclaim refills. */
static void issue_prefetches(fs_runtime *rt, const uint64_t *cand, int n, uint16_t thread,
			     uint32_t depth)
{
	uint64_t room = fs_pages_free(&rt->pages);
	uint64_t bump = atomic_load(&rt->bump);
	fs_io ios[FS_POLICY_MAX_CANDIDATES];
	int nio = 0;
	uint64_t pages = 0;
	for (int i = 0; i < n && room > 0; i++) {
		uint64_t pg = FS_CAND_PAGE(cand[i]);
		unsigned how = (cand[i] & FS_CAND_TRIPWIRE) ? FS_FETCH_TRIPWIRE : 0;
		if (pg >= bump || fs_page_fetch(&rt->pages, pg, how))
			continue;
		room--;
		pages++;
		fs_io *last = nio ? &ios[nio - 1] : NULL;
		if (last && last->page + last->npages == pg && last->npages < FS_IO_MAX_PAGES) {
			last->npages++;
			last->tag = make_tag(last->page, last->npages, 1, thread, depth);
			continue;
		}
		ios[nio++] = (fs_io){ .page = pg,
				      .npages = 1,
				      .flags = FS_IO_PREFETCH,
				      .buf = rt->alias + pg * FS_PAGE_SIZE,
				      .tag = make_tag(pg, 1, 1, thread, depth) };
	}
	if (!nio)
		return;
	atomic_fetch_add_explicit(&rt->c.prefetches_issued, pages, memory_order_relaxed);
	submit_reads(rt, ios, nio);
}

/* Publish the policy's time and metadata for fs_stats_get (the driver is ours). */
static void publish_policy(fs_runtime *rt)
{
	atomic_store_explicit(&rt->c.policy_ns, rt->driver.policy_ns, memory_order_relaxed);
	atomic_store_explicit(&rt->c.policy_events, rt->driver.events, memory_order_relaxed);
	if (rt->pol->ops->mem_bytes)
		atomic_store_explicit(&rt->c.policy_mem_bytes, rt->pol->ops->mem_bytes(rt->pol),
				      memory_order_relaxed);
}

static void prefetch_after(fs_runtime *rt, const fs_event *ev)
{
	uint64_t cand[FS_POLICY_MAX_CANDIDATES];
	int n = fs_driver_event(&rt->driver, ev, cand, FS_POLICY_MAX_CANDIDATES);
	issue_prefetches(rt, cand, n, ev->thread, 0);
}

/* The queued assumed hits of pages mapped on arrival, in arrival order: each one's
 * candidates continue its chain.  Run from the main loop and before a batch's faults
 * go to the policy (these pages arrived first), not from landing, because issuing
 * lands completions, which queue more. */
static int assumed_hits(fs_runtime *rt)
{
	uint64_t cand[FS_POLICY_MAX_CANDIDATES];
	int n, work = 0;
	uint32_t depth;
	uint16_t thread;
	while (fs_driver_next(&rt->driver, cand, FS_POLICY_MAX_CANDIDATES, &n, &depth, &thread)) {
		issue_prefetches(rt, cand, n, thread, depth);
		work++;
	}
	return work;
}

/* ---- faults ------------------------------------------------------------------------------ */

static void add_waiter(fs_runtime *rt, uint64_t page, int hit)
{
	if (rt->n_waiters < FS_MAX_THREADS)
		rt->waiters[rt->n_waiters++] = (struct fs_waiter){ page, fs_now_ns(), hit };
}

static void handle_fault(fs_runtime *rt, const struct uffd_msg *m, struct demand_batch *batch,
			 fs_event *evs, int *nev)
{
	uint64_t addr = m->arg.pagefault.address;
	uint64_t flags = m->arg.pagefault.flags;
	uint64_t base = (uint64_t)(uintptr_t)rt->app;
	if (addr < base || addr >= base + rt->npages * FS_PAGE_SIZE)
		return;
	uint64_t page = (addr - base) / FS_PAGE_SIZE;
	int write = (flags & UFFD_PAGEFAULT_FLAG_WRITE) != 0;
	fs_pages *P = &rt->pages;
	atomic_fetch_add_explicit(&rt->c.faults, 1, memory_order_relaxed);

	if (flags & UFFD_PAGEFAULT_FLAG_WP) {
		/* A write to a write-protected page.  Each fault is counted once, in one of
		 * the summary's parts (stats.c): the dirty-tracking fault of a mapped clean
		 * page is a wp fault; the write that reactivates a page the clock unmapped
		 * meanwhile is a reactivation (the page module counts it); a page already
		 * dirty, or no longer local (the retry faults normally), is another fault. */
		int r = fs_page_written(P, page);
		if (r == 0)
			atomic_fetch_add_explicit(&rt->c.wp_faults, 1, memory_order_relaxed);
		else if (r == 2)
			atomic_fetch_add_explicit(&rt->c.other_faults, 1, memory_order_relaxed);
		return;
	}

	fs_event ev = { .page = page,
			.time_ns = fs_now_ns() - rt->start_ns,
			.thread = thread_index(rt, (pid_t)m->arg.pagefault.feat.ptid),
			.kind = FS_EV_MISS,
			.flags = write ? FS_EVF_WRITE : 0 };
	switch (fs_page_state(P, page) & PS_MASK) {
	case PS_MAPPED:
	case PS_DIRTY:
		atomic_fetch_add_explicit(&rt->c.other_faults, 1, memory_order_relaxed);
		uffd_wake(rt, page); /* mapped by an earlier message of this batch */
		return;
	case PS_CACHED: {
		uint64_t t0 = fs_now_ns();
		/* A prefetch hit is far-memory traffic the prefetcher sees; a reactivation
		 * (the clock had unmapped a page in use) is not. */
		if (fs_page_touch(P, page, write)) {
			ev.kind = FS_EV_HIT;
			evs[(*nev)++] = ev;
			fs_latency_add(&rt->lat_hit, fs_now_ns() - t0);
		}
		return;
	}
	case PS_FETCH: {
		int r = fs_page_wait(P, page, write);
		if (r != 2)
			add_waiter(rt, page, r == 1);
		if (r == 1) { /* a late hit: prefetched, still in flight when touched */
			/* It is a demand now: ahead of the prefetches queued before it. */
			if (rt->be->ops->promote && rt->be->ops->promote(rt->be, page))
				atomic_fetch_add_explicit(&rt->c.promotions, 1, memory_order_relaxed);
			ev.kind = FS_EV_HIT;
			evs[(*nev)++] = ev;
		} else { /* a second touch of a page already being fetched */
			atomic_fetch_add_explicit(&rt->c.other_faults, 1, memory_order_relaxed);
		}
		return;
	}
	case PS_ZERO:
		reserve_pages(rt, 1, batch);
		fs_page_zero_fill(P, page, write);
		return;
	case PS_FAR:
		reserve_pages(rt, 1, batch); /* lands other pages' reads; this one stays FAR */
		fs_page_fetch(P, page, FS_FETCH_DEMAND | (write ? FS_FETCH_WRITE : 0));
		add_waiter(rt, page, 0);
		batch->io[batch->n++] = (fs_io){ .page = page,
						.npages = 1,
						.flags = FS_IO_DEMAND,
						.buf = rt->alias + page * FS_PAGE_SIZE,
						.tag = make_tag(page, 1, 0, 0, 0) };
		atomic_fetch_add_explicit(&rt->c.demand_fetches, 1, memory_order_relaxed);
		evs[(*nev)++] = ev;
		return;
	}
}

static int read_faults(fs_runtime *rt)
{
	struct uffd_msg msgs[MSG_BATCH];
	ssize_t r = read(rt->uffd, msgs, sizeof(msgs));
	if (r < 0) {
		if (errno == EAGAIN || errno == EINTR)
			return 0;
		fs_pager_fatal(rt, "reading userfaultfd: %s", strerror(errno));
	}
	/* A userfaultfd gives whole messages, never end-of-file: anything else means the
	 * descriptor is no longer ours (fs_pager_fatal names it). */
	if (r == 0 || r % (ssize_t)sizeof(struct uffd_msg))
		fs_pager_fatal(rt, "reading userfaultfd: %zd bytes, not whole messages", r);
	int n = (int)(r / (ssize_t)sizeof(struct uffd_msg));
	struct demand_batch batch = { .n = 0 };
	_Static_assert(MSG_BATCH <= FS_ARRAY_SIZE(batch.io), "one demand read per message");
	fs_event evs[MSG_BATCH];
	int nev = 0;
	for (int i = 0; i < n; i++)
		if (msgs[i].event == UFFD_EVENT_PAGEFAULT)
			handle_fault(rt, &msgs[i], &batch, evs, &nev);
		else
			fs_pager_fatal(rt, "reading userfaultfd: an event %u we did not ask for",
				       msgs[i].event);
	/* 1. demand reads first ... */
	if (batch.n)
		submit_reads(rt, batch.io, batch.n);
	/* 2. ... then the prefetcher, while they are in flight: first the pages that were
	 * mapped on arrival while these faults were handled (they came first), then the
	 * faults. */
	assumed_hits(rt);
	for (int i = 0; i < nev; i++) {
		record(rt, &evs[i]);
		prefetch_after(rt, &evs[i]);
	}
	if (nev)
		publish_policy(rt);
	return n;
}

/* ---- commands ------------------------------------------------------------------------------ */

void fs_pager_run_commands(fs_runtime *rt)
{
	struct fs_cmd cmds[FS_CMD_MAX];
	pthread_mutex_lock(&rt->cmd_mu);
	int n = rt->n_cmds;
	memcpy(cmds, rt->cmds, (size_t)n * sizeof(cmds[0]));
	rt->n_cmds = 0;
	uint64_t seq = rt->cmd_submitted;
	atomic_store(&rt->cmd_pending, 0);
	pthread_mutex_unlock(&rt->cmd_mu);

	/* Land every read in flight first, so no completion arrives for a page that was
	 * discarded meanwhile and no waiter is left behind. */
	while (rt->be->ops->inflight(rt->be) > 0)
		fs_drain(rt, -1);
	for (int i = 0; i < n; i++)
		fs_page_discard(&rt->pages, cmds[i].page, cmds[i].npages);
	pthread_mutex_lock(&rt->cmd_mu);
	rt->cmd_done = seq;
	pthread_cond_broadcast(&rt->cmd_cv);
	pthread_mutex_unlock(&rt->cmd_mu);
}

/* ---- the loop ------------------------------------------------------------------------------ */

static void *pager_main(void *arg)
{
	fs_runtime *rt = arg;
	fs_thread_is_runtime = 1;
	if (rt->cfg.pager_cpu >= 0) {
		cpu_set_t set;
		CPU_ZERO(&set);
		CPU_SET(rt->cfg.pager_cpu, &set);
		if (sched_setaffinity(0, sizeof(set), &set))
			fs_log(1, "cannot pin the pager to CPU %d: %s", rt->cfg.pager_cpu,
			       strerror(errno));
	}
	uint64_t idle_since = 0, quiet_since = 0;
	while (!atomic_load(&rt->stop)) {
		int publish_ms = fs_report_tick(rt); /* statistics for `farsight run` */
		int work = read_faults(rt);
		/* While a thread waits, wait on the backend in short slices so new faults
		 * are still read promptly.  The slice is a tenth of the time the backend
		 * has been silent (2 us to 1 ms): a stalled or unreachable server costs ~1%
		 * of a CPU until its deadline (backend_timeout_ms) ends the wait, not a
		 * spinning pager, and a new fault waits at most a tenth of that silence. */
		uint64_t slice = 0;
		if (rt->n_waiters) {
			uint64_t now = fs_now_ns();
			if (!quiet_since)
				quiet_since = now;
			slice = FS_MAX(2000u, FS_MIN((now - quiet_since) / 10, 1000000u));
		} else {
			quiet_since = 0;
		}
		int landed = fs_drain(rt, (int64_t)slice);
		if (landed)
			quiet_since = 0;
		work += landed;
		if (assumed_hits(rt)) {
			publish_policy(rt);
			work++;
		}
		if (atomic_load(&rt->cmd_pending))
			fs_pager_run_commands(rt);
		if (atomic_load(&rt->fork_pending))
			fs_fork_serve(rt);
		if (rt->n_children && fs_now_ns() - rt->reap_ns > 2000000) {
			fs_fork_reap(rt); /* children that exec'd or exited are owed nothing */
			rt->reap_ns = fs_now_ns();
		}
		if (rt->adaptive)
			fs_reclaim_feedback(rt, fs_now_ns());
		/* Background reclaim, one batch at a time, only when no thread waits. */
		if (!rt->n_waiters && fs_pages_free(&rt->pages) < rt->free_low) {
			fs_reclaim(rt, rt->free_high);
			work++;
		}
		if (work || rt->n_waiters) {
			idle_since = 0;
			continue;
		}
		uint64_t now = fs_now_ns();
		if (!idle_since)
			idle_since = now;
		if (now - idle_since < (uint64_t)rt->cfg.spin_us * 1000) {
			fs_cpu_relax();
			continue;
		}
		/* Sleep until a fault or a command arrives; wake now and then to land
		 * prefetches that completed meanwhile. */
		struct pollfd p[2] = { { rt->uffd, POLLIN, 0 }, { rt->wakefd, POLLIN, 0 } };
		int tmo = rt->be->ops->inflight(rt->be) ? 1 : publish_ms;
		if (rt->n_children && (tmo < 0 || tmo > 10))
			tmo = 10;
		int rc = poll(p, 2, tmo);
		if (rc < 0 && errno != EINTR)
			fs_pager_fatal(rt, "poll on userfaultfd: %s", strerror(errno));
		/* Woken: the descriptors are checked before the eventfd is read (reading a
		 * file the program put there would move its offset).  Once per sleep. */
		fs_runtime_check_fds(rt);
		if (p[1].revents & POLLIN) {
			uint64_t v;
			ssize_t unused = read(rt->wakefd, &v, sizeof(v));
			(void)unused;
		}
		idle_since = 0;
	}
	return NULL;
}

/* Start the pager thread with every signal blocked from its first instruction: the
 * program's signals are not ours.  Blocking them inside the thread would leave a window
 * (widest in a forked child on a busy CPU) in which a process-directed signal runs the
 * program's handler on the pager; a handler that touches far memory then faults on the
 * pager's own userfaultfd, which no one else reads, and the process hangs. */
int fs_pager_start(fs_runtime *rt)
{
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	int rc = pthread_create(&rt->pager, NULL, pager_main, rt);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc)
		return FS_ENOMEM;
	pthread_setname_np(rt->pager, "farsight-pager");
	return FS_OK;
}
