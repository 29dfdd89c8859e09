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

#ifndef UFFDIO_CONTINUE_MODE_WP
#define UFFDIO_CONTINUE_MODE_WP ((__u64)1 << 1)
#endif

#define MSG_BATCH 64
#define DONE_BATCH 256

/* Tags of backend reads, 64 bits: first page (40), run length - 1 (8), the event
 * thread whose prediction asked for it (12), its chain depth (3), prefetch (1).  The
 * thread and depth let a page mapped on arrival continue its thread's prediction
 * chain (see assumed_hits). */
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

void fs_pager_fatal(fs_runtime *rt, const char *fmt, ...)
{
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

static void backend_failed(fs_runtime *rt, const char *what, int rc)
{
	fs_pager_fatal(rt, "far-memory backend '%s' failed during %s: %s (%s)",
		       rt->be->ops->name, what, rt->be->errmsg[0] ? rt->be->errmsg : "no detail",
		       fs_strerror(rc));
}

static void uffd_wake(fs_runtime *rt, uint64_t page)
{
	struct uffdio_range r = { .start = (uint64_t)(uintptr_t)rt->app + page * FS_PAGE_SIZE,
				  .len = FS_PAGE_SIZE };
	if (ioctl(rt->uffd, UFFDIO_WAKE, &r) && errno != ENOENT)
		fs_log(2, "UFFDIO_WAKE page %llu: %s", (unsigned long long)page, strerror(errno));
}

/* Map n pages that are in the page cache into the app view, one ioctl (a run of
 * prefetched pages mapped on arrival costs one system call, not n).  EEXIST means a
 * racing thread's fault already mapped a page; EAGAIN means the address space is
 * changing: retry (both are normal, see peers.md).  A run that fails part-way is
 * redone page by page, where EEXIST then marks the pages already done. */
static void install_range(fs_runtime *rt, uint64_t page, uint64_t n, int write)
{
	struct uffdio_continue c = {
		.range = { .start = (uint64_t)(uintptr_t)rt->app + page * FS_PAGE_SIZE,
			   .len = n * FS_PAGE_SIZE },
		.mode = (rt->have_wp && !write) ? UFFDIO_CONTINUE_MODE_WP : 0,
	};
	for (int tries = 0;; tries++) {
		if (ioctl(rt->uffd, UFFDIO_CONTINUE, &c) == 0 || (n == 1 && errno == EEXIST))
			break;
		if (errno == EAGAIN && tries < 1000) {
			c.mapped = 0;
			continue;
		}
		if (n > 1) {
			for (uint64_t k = 0; k < n; k++)
				install_range(rt, page + k, 1, write);
			return;
		}
		fs_pager_fatal(rt, "UFFDIO_CONTINUE of page %llu failed: %s",
			       (unsigned long long)page, strerror(errno));
	}
	for (uint64_t k = 0; k < n; k++) {
		uint8_t s = rt->state[page + k] & PF_HASFAR;
		rt->state[page + k] = s | (write || !rt->have_wp ? PS_DIRTY : PS_MAPPED);
	}
}

static void install(fs_runtime *rt, uint64_t page, int write)
{
	install_range(rt, page, 1, write);
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

/* Make room for n more local pages, evicting synchronously if the budget is full. */
static void reserve_pages(fs_runtime *rt, uint64_t n)
{
	while (fs_cache_free(rt) < n) {
		/* -1: the clock only deactivated pages this pass; the next pass evicts. */
		if (fs_reclaim(rt, n) == 0) {
			/* Nothing evictable: every local page is in flight.  Land completions
			 * (they become evictable) and try again. */
			fs_io_done done[DONE_BATCH];
			int got = rt->be->ops->poll(rt->be, done, DONE_BATCH, 1000000);
			if (got < 0)
				backend_failed(rt, "a read", got);
			fs_pager_land(rt, done, got);
			if (got == 0 && rt->inflight_reads == 0)
				fs_pager_fatal(rt, "local budget of %llu pages is too small: all are pinned",
					       (unsigned long long)rt->budget);
		}
	}
}

static void submit_reads(fs_runtime *rt, fs_io *ios, int n)
{
	int off = 0;
	while (off < n) {
		int rc = rt->be->ops->submit_read(rt->be, ios + off, n - off);
		if (rc < 0)
			backend_failed(rt, "a read", rc);
		off += rc;
		if (off < n) { /* queue full: land some completions first */
			fs_io_done done[DONE_BATCH];
			int got = rt->be->ops->poll(rt->be, done, DONE_BATCH, -1);
			if (got < 0)
				backend_failed(rt, "a read", got);
			fs_pager_land(rt, done, got);
		}
	}
	for (int i = 0; i < n; i++)
		atomic_fetch_add_explicit(&rt->c.far_bytes_read,
					  (uint64_t)ios[i].npages * FS_PAGE_SIZE, memory_order_relaxed);
	rt->inflight_reads += n;
}

/* Ask the policy for candidates after an event and issue them as prefetches.  depth:
 * 0 for an event the program raised, k+1 for a page mapped on arrival whose request
 * had depth k (the chain of assumed hits since the last real event). */
static void prefetch_after(fs_runtime *rt, const fs_event *ev, uint32_t depth)
{
	uint64_t cand[FS_POLICY_MAX_CANDIDATES];
	uint64_t t0 = fs_now_ns();
	int n = rt->pol->ops->on_event(rt->pol, ev, cand, FS_POLICY_MAX_CANDIDATES);
	atomic_fetch_add_explicit(&rt->c.policy_ns, fs_now_ns() - t0, memory_order_relaxed);
	atomic_fetch_add_explicit(&rt->c.policy_events, 1, memory_order_relaxed);
	if (rt->pol->ops->mem_bytes)
		atomic_store_explicit(&rt->c.policy_mem_bytes, rt->pol->ops->mem_bytes(rt->pol),
				      memory_order_relaxed);
	if (n <= 0)
		return;
	/* Prefetches use free pages but never force an eviction: reclaim refills. */
	uint64_t room = fs_cache_free(rt);
	uint64_t bump = atomic_load(&rt->bump);
	fs_io ios[FS_POLICY_MAX_CANDIDATES];
	int nio = 0;
	for (int i = 0; i < n && room > 0; i++) {
		uint64_t pg = cand[i];
		if (pg >= bump || (rt->state[pg] & PS_MASK) != PS_FAR)
			continue; /* outside the arena in use, zero, local or in flight */
		rt->state[pg] = PS_FETCH | PF_PREFETCHED | PF_HASFAR;
		fs_cache_account_local(rt, 1);
		room--;
		/* Extend the previous request when contiguous: one backend round trip. */
		fs_io *last = nio ? &ios[nio - 1] : NULL;
		if (last && last->page + last->npages == pg && last->npages < 256) {
			last->npages++;
			last->tag = make_tag(last->page, last->npages, 1, ev->thread, depth);
			continue;
		}
		ios[nio].page = pg;
		ios[nio].npages = 1;
		ios[nio].flags = FS_IO_PREFETCH;
		ios[nio].buf = rt->alias + pg * FS_PAGE_SIZE;
		ios[nio].tag = make_tag(pg, 1, 1, ev->thread, depth);
		nio++;
	}
	if (!nio)
		return;
	uint64_t pages = 0;
	for (int i = 0; i < nio; i++)
		pages += ios[i].npages;
	atomic_fetch_add_explicit(&rt->c.prefetches_issued, pages, memory_order_relaxed);
	submit_reads(rt, ios, nio);
}

static int direct_mappable(uint8_t s)
{
	return (s & (PS_MASK | PF_PREFETCHED | PF_WAITER)) == (PS_FETCH | PF_PREFETCHED);
}

/* Bookkeeping of a prefetched page just mapped on arrival (read tag `tag`): its first
 * touch costs nothing but is not seen either (Hermit's swap-cache bypass), so the
 * prefetcher is told of an assumed hit now, as the kernel's readahead counts a
 * bypassed page (its window depends on it), and the page is queued for the clock. */
static void mapped_on_arrival(fs_runtime *rt, uint64_t pg, uint64_t tag)
{
	atomic_fetch_add_explicit(&rt->c.prefetches_mapped, 1, memory_order_relaxed);
	if (rt->arrival.chain && rt->n_assumed < FS_ASSUMED_MAX) {
		/* A chain: the policy predicts onward from here, after this landing, from
		 * assumed_hits. */
		rt->assumed[rt->n_assumed++] =
			(struct fs_assumed){ pg, tag_thread(tag), (uint8_t)tag_depth(tag) };
	} else { /* no chain (or its queue is full): the policy only learns of the hit */
		fs_event ev = fs_assumed_event(pg, fs_now_ns() - rt->start_ns, tag_thread(tag));
		uint64_t cand[1];
		rt->pol->ops->on_event(rt->pol, &ev, cand, 0);
	}
	/* Front: unused yet, first in line for the clock, like a readahead page on the
	 * kernel's inactive list (on a cyclic scan this acts like MRU, which is what keeps
	 * hermit's pagerank reads low).  Back: in use, as a chain has bet.  See
	 * fs_policy_arrival (arrival_place). */
	if (rt->arrival.front)
		fs_cache_push_front(rt, pg);
	else
		fs_cache_push(rt, pg);
}

/* Land backend read completions. */
void fs_pager_land(fs_runtime *rt, const fs_io_done *done, int n)
{
	for (int i = 0; i < n; i++) {
		if (done[i].tag == UINT64_MAX) { /* a write-back completed */
			if (done[i].status)
				fs_pager_fatal(rt, "far-memory backend '%s' failed to write back: %s",
					       rt->be->ops->name,
					       rt->be->errmsg[0] ? rt->be->errmsg
								 : fs_strerror(done[i].status));
			continue;
		}
		if (done[i].status)
			fs_pager_fatal(rt, "far-memory backend '%s' failed to read pages %llu+%u: %s",
				       rt->be->ops->name,
				       (unsigned long long)tag_page(done[i].tag),
				       tag_npages(done[i].tag),
				       rt->be->errmsg[0] ? rt->be->errmsg : fs_strerror(done[i].status));
		rt->inflight_reads--;
		uint64_t page = tag_page(done[i].tag);
		uint32_t np = tag_npages(done[i].tag);
		for (uint32_t k = 0; k < np; k++) {
			uint64_t pg = page + k;
			uint8_t s = rt->state[pg];
			if ((s & PS_MASK) != PS_FETCH)
				continue; /* discarded while in flight */
			if (s & PF_WAITER) {
				rt->n_waiting--;
				install(rt, pg, (s & PF_WAITER_W) != 0);
			} else if (rt->arrival.map && (s & PF_PREFETCHED)) {
				/* Mapped on arrival, with the pages of the run that follow and
				 * are mapped on arrival too: one UFFDIO_CONTINUE. */
				uint32_t e = k + 1;
				while (e < np && direct_mappable(rt->state[page + e]))
					e++;
				install_range(rt, pg, e - k, 0);
				for (uint32_t j = k; j < e; j++)
					mapped_on_arrival(rt, page + j, done[i].tag);
				k = e - 1;
				continue;
			} else {
				rt->state[pg] = PS_CACHED | PF_HASFAR | (s & PF_PREFETCHED);
				rt->n_cached++;
			}
			fs_cache_push(rt, pg);
		}
	}
}


static void handle_fault(fs_runtime *rt, const struct uffd_msg *m, fs_io *demand, int *ndemand,
			 fs_event *evs, int *nev)
{
	uint64_t addr = m->arg.pagefault.address;
	uint64_t flags = m->arg.pagefault.flags;
	uint64_t base = (uint64_t)(uintptr_t)rt->app;
	if (addr < base || addr >= base + rt->npages * FS_PAGE_SIZE)
		return;
	uint64_t page = (addr - base) / FS_PAGE_SIZE;
	int write = (flags & UFFD_PAGEFAULT_FLAG_WRITE) != 0;
	uint8_t s = rt->state[page];
	atomic_fetch_add_explicit(&rt->c.faults, 1, memory_order_relaxed);

	if (flags & UFFD_PAGEFAULT_FLAG_WP) {
		/* A write to a write-protected page.  Un-protect it first (this wakes the
		 * thread): for a mapped clean page that is the dirty-tracking fault.  If the
		 * clock unmapped the page after the fault was raised, the write is the touch
		 * that reactivates it: map it writable.  If the page was evicted meanwhile,
		 * the retry takes a normal MISSING fault (un-protecting also drops any
		 * uffd-wp marker the zap left, so the retry cannot loop here). */
		struct uffdio_writeprotect wp = {
			.range = { .start = base + page * FS_PAGE_SIZE, .len = FS_PAGE_SIZE },
			.mode = 0,
		};
		atomic_fetch_add_explicit(&rt->c.wp_faults, 1, memory_order_relaxed);
		if (ioctl(rt->uffd, UFFDIO_WRITEPROTECT, &wp))
			fs_pager_fatal(rt, "UFFDIO_WRITEPROTECT (clear) of page %llu: %s",
				       (unsigned long long)page, strerror(errno));
		switch (s & PS_MASK) {
		case PS_MAPPED:
			rt->state[page] = PS_DIRTY | (s & PF_HASFAR);
			break;
		case PS_CACHED: /* deactivated after this write fault was raised */
			atomic_fetch_add_explicit(&rt->c.reactivations, 1, memory_order_relaxed);
			rt->n_cached--;
			install(rt, page, 1);
			fs_cache_push(rt, page);
			break;
		default: /* DIRTY already; or not local: the retry faults normally */
			break;
		}
		return;
	}

	fs_event ev = { .page = page,
			.time_ns = fs_now_ns() - rt->start_ns,
			.thread = thread_index(rt, (pid_t)m->arg.pagefault.feat.ptid),
			.kind = FS_EV_MISS,
			.flags = write ? FS_EVF_WRITE : 0 };
	switch (s & PS_MASK) {
	case PS_MAPPED:
	case PS_DIRTY:
		uffd_wake(rt, page); /* mapped by an earlier message of this batch */
		return;
	case PS_CACHED: {
		uint64_t t0 = fs_now_ns();
		rt->n_cached--;
		if (!(s & PF_PREFETCHED)) {
			/* Touched again after the clock unmapped it: the page is in use, give
			 * it its second chance.  Not far-memory traffic, so not an event. */
			atomic_fetch_add_explicit(&rt->c.reactivations, 1, memory_order_relaxed);
			install(rt, page, write || (s & PF_DIRTYDATA));
			fs_cache_push(rt, page);
			return;
		}
		atomic_fetch_add_explicit(&rt->c.prefetch_hits, 1, memory_order_relaxed);
		ev.kind = FS_EV_HIT;
		evs[(*nev)++] = ev;
		install(rt, page, write);
		fs_cache_push(rt, page);
		fs_latency_add(&rt->lat_hit, fs_now_ns() - t0);
		return;
	}
	case PS_FETCH:
		if (!(s & PF_WAITER)) {
			rt->n_waiting++;
			if (rt->n_waiters < FS_MAX_THREADS)
				rt->waiters[rt->n_waiters++] = (struct fs_waiter){ page, fs_now_ns(),
									(s & PF_PREFETCHED) != 0 };
		}
		rt->state[page] = s | PF_WAITER | (write ? PF_WAITER_W : 0);
		if (s & PF_PREFETCHED) {
			/* A late hit: prefetched, but still in flight when touched. */
			rt->state[page] &= (uint8_t)~PF_PREFETCHED;
			atomic_fetch_add_explicit(&rt->c.prefetch_hits, 1, memory_order_relaxed);
			atomic_fetch_add_explicit(&rt->c.late_hits, 1, memory_order_relaxed);
			ev.kind = FS_EV_HIT;
			evs[(*nev)++] = ev;
		}
		return;
	case PS_ZERO:
		reserve_pages(rt, 1);
		/* Never written: a zero page, no backend round trip.  Writing the alias
		 * allocates the shmem page; CONTINUE maps it. */
		memset(rt->alias + page * FS_PAGE_SIZE, 0, FS_PAGE_SIZE);
		fs_cache_account_local(rt, 1);
		/* Count before install: installing wakes the thread, which may read stats. */
		atomic_fetch_add_explicit(&rt->c.zero_fills, 1, memory_order_relaxed);
		install(rt, page, write);
		fs_cache_push(rt, page);
		return;
	case PS_FAR:
		reserve_pages(rt, 1);
		s = rt->state[page]; /* reclaim does not touch non-local pages, but re-read */
		rt->state[page] = PS_FETCH | PF_HASFAR | PF_WAITER | (write ? PF_WAITER_W : 0);
		fs_cache_account_local(rt, 1);
		rt->n_waiting++;
		if (rt->n_waiters < FS_MAX_THREADS)
			rt->waiters[rt->n_waiters++] = (struct fs_waiter){ page, fs_now_ns(), 0 };
		demand[*ndemand] = (fs_io){ .page = page,
					    .npages = 1,
					    .flags = FS_IO_DEMAND,
					    .buf = rt->alias + page * FS_PAGE_SIZE,
					    .tag = make_tag(page, 1, 0, 0, 0) };
		(*ndemand)++;
		atomic_fetch_add_explicit(&rt->c.demand_fetches, 1, memory_order_relaxed);
		evs[(*nev)++] = ev;
		return;
	}
}

/* Record the latency of waits that have ended (their page is mapped now). */
static void finish_waiters(fs_runtime *rt)
{
	uint64_t now = fs_now_ns();
	for (int i = 0; i < rt->n_waiters;) {
		uint8_t k = rt->state[rt->waiters[i].page] & PS_MASK;
		if (k == PS_FETCH) {
			i++;
			continue;
		}
		fs_latency_add(rt->waiters[i].hit ? &rt->lat_hit : &rt->lat_demand,
			       now - rt->waiters[i].since);
		rt->waiters[i] = rt->waiters[--rt->n_waiters];
	}
}

extern void fs_runtime_run_commands(fs_runtime *rt);

static int assumed_hits(fs_runtime *rt);

static int read_faults(fs_runtime *rt)
{
	struct uffd_msg msgs[MSG_BATCH];
	ssize_t r = read(rt->uffd, msgs, sizeof(msgs));
	if (r < 0) {
		if (errno == EAGAIN || errno == EINTR)
			return 0;
		fs_pager_fatal(rt, "reading userfaultfd: %s", strerror(errno));
	}
	int n = (int)(r / (ssize_t)sizeof(struct uffd_msg));
	fs_io demand[MSG_BATCH];
	fs_event evs[MSG_BATCH];
	int nd = 0, nev = 0;
	for (int i = 0; i < n; i++)
		if (msgs[i].event == UFFD_EVENT_PAGEFAULT)
			handle_fault(rt, &msgs[i], demand, &nd, evs, &nev);
	/* 1. demand reads first ... */
	if (nd)
		submit_reads(rt, demand, nd);
	/* 2. ... then the prefetcher, while they are in flight: first the pages that were
	 * mapped on arrival while these faults were handled (they came first), then the
	 * faults. */
	assumed_hits(rt);
	for (int i = 0; i < nev; i++) {
		record(rt, &evs[i]);
		prefetch_after(rt, &evs[i], 0);
	}
	return n;
}

/* Pages mapped on arrival (prefetch_map direct or auto with hermit or farsight) are
 * touched without a fault, so the prefetcher never sees their hits.  A policy that
 * predicts onward from hits (FS_POLICY_RT_CHAIN: the FarSight model) is fed each as an
 * assumed hit, in arrival order, on the thread whose prediction fetched it, and the
 * pages it predicts from there are issued with the chain depth one more, up to
 * `chain_depth` (at most 7) deep since the last event the program really raised.  So
 * its predictions keep running ahead of the program instead of stopping one
 * prediction after each fault, and a wrong guess cannot run away: the chain ends at
 * that depth, and a real miss starts a new one.  Run from the main loop (and before
 * a batch's faults go to the policy: these pages arrived first), not from landing,
 * because issuing lands completions. */
static int assumed_hits(fs_runtime *rt)
{
	int n = 0;
	uint32_t max_depth = rt->arrival.chain_depth;
	/* Issuing may land more completions, which append here: walk by index. */
	for (; n < rt->n_assumed; n++) {
		struct fs_assumed a = rt->assumed[n];
		fs_event ev = fs_assumed_event(a.page, fs_now_ns() - rt->start_ns, a.thread);
		if (a.depth < max_depth) {
			prefetch_after(rt, &ev, a.depth + 1u);
		} else {
			uint64_t cand[1];
			rt->pol->ops->on_event(rt->pol, &ev, cand, 0);
		}
	}
	rt->n_assumed = 0;
	return n;
}

static int land_completions(fs_runtime *rt, int64_t timeout_ns)
{
	if (rt->be->ops->inflight(rt->be) == 0)
		return 0;
	fs_io_done done[DONE_BATCH];
	int got = rt->be->ops->poll(rt->be, done, DONE_BATCH, timeout_ns);
	if (got < 0)
		backend_failed(rt, "a read", got);
	fs_pager_land(rt, done, got);
	if (got)
		finish_waiters(rt);
	return got;
}

void *fs_pager_main(void *arg)
{
	fs_runtime *rt = arg;
	fs_thread_is_runtime = 1;
	sigset_t all;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL); /* the program's signals are not ours */
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
		if (rt->n_waiting) {
			uint64_t now = fs_now_ns();
			if (!quiet_since)
				quiet_since = now;
			slice = FS_MAX(2000u, FS_MIN((now - quiet_since) / 10, 1000000u));
		} else {
			quiet_since = 0;
		}
		int landed = land_completions(rt, (int64_t)slice);
		if (landed)
			quiet_since = 0;
		work += landed;
		work += assumed_hits(rt);
		if (atomic_load(&rt->cmd_pending))
			fs_runtime_run_commands(rt);
		if (rt->adaptive)
			fs_reclaim_feedback(rt, fs_now_ns());
		/* Background reclaim, one batch at a time, only when no thread waits. */
		if (!rt->n_waiting && fs_cache_free(rt) < rt->free_low) {
			fs_reclaim(rt, rt->free_high);
			work++;
		}
		if (work || rt->n_waiting) {
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
		int rc = poll(p, 2, rt->be->ops->inflight(rt->be) ? 1 : publish_ms);
		if (rc < 0 && errno != EINTR)
			fs_pager_fatal(rt, "poll on userfaultfd: %s", strerror(errno));
		if (p[1].revents & POLLIN) {
			uint64_t v;
			ssize_t unused = read(rt->wakefd, &v, sizeof(v));
			(void)unused;
		}
		idle_since = 0;
	}
	return NULL;
}
