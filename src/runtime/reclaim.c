/*
 * reclaim.c - the local cache: the budget, the watermarks, victim choice, eviction.
 *
 * Local memory is a budget in pages.  A page counts against it from the moment a
 * fetch into it is issued until it is evicted (FETCH, CACHED, MAPPED, DIRTY), so the
 * budget is never exceeded, not even transiently: local_mem_peak_bytes <= budget.
 * The pager keeps between free_low and free_high pages free, evicting in batches
 * between fault batches; a fault that finds no free page evicts one batch directly.
 *
 * Victims are chosen by a clock over the pages in the order they became local (the
 * `reclaim` setting; `fifo` is plain FIFO).  User space gets no accessed bits, so the
 * clock makes its own: when the hand reaches a mapped page, the page is unmapped from
 * the program's view but kept in the page cache (CACHED, "inactive") and goes to the
 * back of the queue.  If the program touches it again, the minor fault maps it back
 * at once (a reactivation: ~6 us, versus a refetch); if the hand reaches it again
 * untouched, it is evicted.  This is the kernel's active/inactive scheme with minor
 * faults as the reference bit.  Entries of pages that left the cache by another way
 * (discard) are recognised as stale by a per-page generation byte and skipped.
 *
 * Evicting a page:
 *   CACHED, prefetched and never touched: counted as a wasted prefetch; the far copy
 *     is still valid, so it is just dropped.
 *   CACHED after deactivation: written back if it was dirty (it is unmapped, so no
 *     write can race), then dropped.
 *   MAPPED (clean, write-protected): dropped; never-written zero pages become ZERO.
 *   DIRTY: write-protected first (so a racing write faults and waits instead of being
 *     lost), written back through the alias, then dropped.
 * Dropping is a hole punched in the memfd, which unmaps the page from both views.
 */
#include "runtime/runtime.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/userfaultfd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#define FIFO_GEN_SHIFT 56
#define FIFO_PAGE_MASK ((1ull << FIFO_GEN_SHIFT) - 1)
#define MAX_BATCH 256

static int ring_init(struct fs_ring *r, uint64_t cap)
{
	r->cap = cap;
	r->head = r->tail = 0;
	r->e = fs_sys_mmap(NULL, cap * sizeof(uint64_t), PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (r->e == MAP_FAILED) {
		r->e = NULL;
		return FS_ENOMEM;
	}
	return FS_OK;
}

int fs_cache_init(fs_runtime *rt)
{
	rt->budget = rt->cfg.local_mem / FS_PAGE_SIZE;
	/* The watermarks are settings, but never more than 1/32 and 1/16 of a small
	 * budget: free pages are local memory the program cannot use. */
	rt->free_low = FS_MIN((uint64_t)rt->cfg.free_low_pages, FS_MAX(rt->budget / 32, 2));
	rt->free_high = FS_MIN((uint64_t)rt->cfg.free_high_pages, FS_MAX(rt->budget / 16, 4));
	if (rt->free_high <= rt->free_low)
		rt->free_high = rt->free_low + 1;
	rt->clock = strcmp(rt->cfg.reclaim, "clock") == 0;
	rt->base_free_low = rt->free_low;
	rt->base_free_high = rt->free_high;
	/* Every push bumps the page's generation, so a ring holds at most one live entry
	 * per local page plus stale ones, which compaction removes when it fills. */
	uint64_t cap = 4096; /* a power of two, so positions stay contiguous across wrap */
	while (cap < rt->budget * 2 + 4096)
		cap <<= 1;
	if (ring_init(&rt->active, cap) || ring_init(&rt->inactive, cap))
		return FS_ENOMEM;
	return FS_OK;
}

void fs_cache_fini(fs_runtime *rt)
{
	if (rt->active.e)
		fs_sys_munmap(rt->active.e, rt->active.cap * sizeof(uint64_t));
	if (rt->inactive.e)
		fs_sys_munmap(rt->inactive.e, rt->inactive.cap * sizeof(uint64_t));
}

void fs_cache_account_local(fs_runtime *rt, int64_t delta)
{
	rt->local = (uint64_t)((int64_t)rt->local + delta);
	if (rt->local > atomic_load_explicit(&rt->c.peak_pages, memory_order_relaxed))
		atomic_store_explicit(&rt->c.peak_pages, rt->local, memory_order_relaxed);
}

/* Is this queue entry the page's current one, and is the page still local? */
static int entry_live(const fs_runtime *rt, uint64_t e)
{
	uint64_t page = e & FIFO_PAGE_MASK;
	uint8_t k = rt->state[page] & PS_MASK;
	return rt->gen[page] == (uint8_t)(e >> FIFO_GEN_SHIFT) &&
	       (k == PS_CACHED || k == PS_MAPPED || k == PS_DIRTY);
}

/* Drop stale entries when a ring is full (after many state changes). */
static void ring_compact(fs_runtime *rt, struct fs_ring *r)
{
	uint64_t out = r->head;
	for (uint64_t i = r->head; i != r->tail; i++) {
		uint64_t e = r->e[i % r->cap];
		if (entry_live(rt, e))
			r->e[out++ % r->cap] = e;
	}
	r->tail = out;
}

/* The list a page belongs on, with room for one more entry; bumps the page's
 * generation, so its older entries, on either list, are stale from now on. */
static struct fs_ring *ring_for_push(fs_runtime *rt, uint64_t page)
{
	uint8_t k = rt->state[page] & PS_MASK;
	struct fs_ring *r = (rt->clock && k != PS_CACHED) ? &rt->active : &rt->inactive;
	rt->gen[page]++;
	if (r->tail - r->head == r->cap)
		ring_compact(rt, r);
	if (r->tail - r->head == r->cap)
		fs_pager_fatal(rt, "reclaim queue overflow (%llu pages); this is a bug",
			       (unsigned long long)r->cap);
	return r;
}

void fs_cache_push(fs_runtime *rt, uint64_t page)
{
	struct fs_ring *r = ring_for_push(rt, page);
	r->e[r->tail++ % r->cap] = page | ((uint64_t)rt->gen[page] << FIFO_GEN_SHIFT);
}

/* Queue a page at the front of its list, first in line for the clock: a prefetched
 * page mapped on arrival has not been used yet, like a readahead page that the kernel
 * puts on its inactive list. */
void fs_cache_push_front(fs_runtime *rt, uint64_t page)
{
	struct fs_ring *r = ring_for_push(rt, page);
	r->head--; /* wraps correctly: cap is a power of two */
	r->e[r->head % r->cap] = page | ((uint64_t)rt->gen[page] << FIFO_GEN_SHIFT);
}

int fs_punch(fs_runtime *rt, uint64_t page, uint64_t npages)
{
	if (fallocate(rt->memfd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
		      (off_t)(page * FS_PAGE_SIZE), (off_t)(npages * FS_PAGE_SIZE))) {
		fs_pager_fatal(rt, "releasing local pages %llu+%llu (fallocate PUNCH_HOLE): %s",
			       (unsigned long long)page, (unsigned long long)npages,
			       strerror(errno));
	}
	return FS_OK;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* Stop writes to a dirty run before it is copied out. */
static void freeze_run(fs_runtime *rt, uint64_t page, uint64_t n)
{
	uint64_t start = (uint64_t)(uintptr_t)rt->app + page * FS_PAGE_SIZE;
	if (rt->have_wp) {
		struct uffdio_writeprotect wp = { .range = { start, n * FS_PAGE_SIZE },
						  .mode = UFFDIO_WRITEPROTECT_MODE_WP };
		if (ioctl(rt->uffd, UFFDIO_WRITEPROTECT, &wp) == 0)
			return;
		fs_pager_fatal(rt, "UFFDIO_WRITEPROTECT of pages %llu+%llu: %s",
			       (unsigned long long)page, (unsigned long long)n, strerror(errno));
	}
	/* Without write-protect support, unmap from the app view: the page stays in the
	 * page cache and a touch raises a minor fault that waits for the pager. */
	if (fs_sys_madvise((void *)(uintptr_t)start, n * FS_PAGE_SIZE, MADV_DONTNEED))
		fs_pager_fatal(rt, "unmapping pages for eviction: %s", strerror(errno));
}

static void write_back(fs_runtime *rt, uint64_t page, uint64_t n)
{
	while (n) {
		uint32_t chunk = (uint32_t)FS_MIN(n, (uint64_t)FS_IO_MAX_PAGES);
		fs_io io = { .page = page,
			     .npages = chunk,
			     .flags = FS_IO_WRITEBACK,
			     .buf = rt->alias + page * FS_PAGE_SIZE,
			     .tag = UINT64_MAX };
		for (;;) {
			int rc = rt->be->ops->submit_write(rt->be, &io, 1);
			if (rc < 0)
				fs_pager_fatal(rt, "far-memory backend '%s' failed to write back pages %llu+%u: %s",
					       rt->be->ops->name, (unsigned long long)page, chunk,
					       rt->be->errmsg[0] ? rt->be->errmsg : fs_strerror(rc));
			if (rc == 1)
				break;
			/* Queue full: land completions, then retry. */
			fs_io_done done[64];
			int got = rt->be->ops->poll(rt->be, done, 64, -1);
			if (got < 0)
				fs_pager_fatal(rt, "far-memory backend '%s' failed: %s",
					       rt->be->ops->name, rt->be->errmsg);
			fs_pager_land(rt, done, got);
		}
		atomic_fetch_add_explicit(&rt->c.writebacks, chunk, memory_order_relaxed);
		atomic_fetch_add_explicit(&rt->c.far_bytes_written, (uint64_t)chunk * FS_PAGE_SIZE,
					  memory_order_relaxed);
		page += chunk;
		n -= chunk;
	}
}

static int needs_writeback(uint8_t s)
{
	return (s & PS_MASK) == PS_DIRTY || ((s & PS_MASK) == PS_CACHED && (s & PF_DIRTYDATA));
}

/* Evict one run of contiguous victims. */
static void evict_run(fs_runtime *rt, uint64_t page, uint64_t n)
{
	/* Dirty sub-runs: freeze the mapped ones, then write back. */
	for (uint64_t i = 0; i < n;) {
		if (!needs_writeback(rt->state[page + i])) {
			i++;
			continue;
		}
		uint64_t j = i;
		while (j < n && needs_writeback(rt->state[page + j]))
			j++;
		for (uint64_t a = i; a < j;) {
			if ((rt->state[page + a] & PS_MASK) != PS_DIRTY) {
				a++;
				continue;
			}
			uint64_t b = a;
			while (b < j && (rt->state[page + b] & PS_MASK) == PS_DIRTY)
				b++;
			freeze_run(rt, page + a, b - a);
			a = b;
		}
		write_back(rt, page + i, j - i);
		i = j;
	}
	fs_punch(rt, page, n);
	for (uint64_t i = 0; i < n; i++) {
		uint64_t pg = page + i;
		uint8_t s = rt->state[pg];
		switch (s & PS_MASK) {
		case PS_CACHED:
			if (s & PF_PREFETCHED)
				atomic_fetch_add_explicit(&rt->c.wasted_prefetches, 1,
							  memory_order_relaxed);
			/* Written back if DIRTYDATA; a clean never-written page is zero. */
			rt->state[pg] = (s & (PF_HASFAR | PF_DIRTYDATA)) ? (PS_FAR | PF_HASFAR)
									 : PS_ZERO;
			rt->n_cached--;
			break;
		case PS_MAPPED:
			rt->state[pg] = (s & PF_HASFAR) ? (PS_FAR | PF_HASFAR) : PS_ZERO;
			break;
		case PS_DIRTY:
			rt->state[pg] = PS_FAR | PF_HASFAR;
			break;
		}
		rt->gen[pg]++;
	}
	fs_cache_account_local(rt, -(int64_t)n);
	atomic_fetch_add_explicit(&rt->c.evictions, n, memory_order_relaxed);
}

/* Deactivate mapped pages: unmap them from the program's view (the page cache keeps
 * them) and move them to the inactive list. */
static void deactivate(fs_runtime *rt, uint64_t *pages, uint64_t n)
{
	qsort(pages, n, sizeof(pages[0]), cmp_u64);
	for (uint64_t i = 0; i < n;) {
		uint64_t j = i + 1;
		while (j < n && pages[j] == pages[j - 1] + 1)
			j++;
		void *start = rt->app + pages[i] * FS_PAGE_SIZE;
		if (fs_sys_madvise(start, (j - i) * FS_PAGE_SIZE, MADV_DONTNEED))
			fs_pager_fatal(rt, "unmapping pages for the clock: %s", strerror(errno));
		i = j;
	}
	for (uint64_t i = 0; i < n; i++) {
		uint8_t s = rt->state[pages[i]];
		uint8_t dirty = (s & PS_MASK) == PS_DIRTY ? PF_DIRTYDATA : 0;
		rt->state[pages[i]] = PS_CACHED | dirty | (s & PF_HASFAR);
		rt->n_cached++;
		fs_cache_push(rt, pages[i]);
	}
}

/* Evict at most one batch, towards want_free free pages.  Returns pages evicted, -1
 * when the clock only deactivated pages this time (call again), 0 when nothing is
 * evictable. */
int fs_reclaim(fs_runtime *rt, uint64_t want_free)
{
	uint64_t freepg = fs_cache_free(rt);
	if (freepg >= want_free)
		return 0;
	uint64_t want = FS_MIN(want_free - freepg, (uint64_t)FS_MAX(rt->cfg.reclaim_batch, 1u));
	want = FS_MIN(want, (uint64_t)MAX_BATCH);
	uint64_t buf[MAX_BATCH];
	uint64_t n = 0;
	if (rt->clock) {
		/* Keep the inactive list at a quarter of the budget (at least two batches):
		 * long enough that a page in use is touched, and so reactivated, before the
		 * hand reaches it there; short enough that few pages in use pay a minor
		 * fault.  The kernel balances its lists the same way. */
		uint64_t target = FS_MAX(rt->budget / 4, 2 * want);
		while (rt->n_cached + n < target && n < MAX_BATCH &&
		       rt->active.head != rt->active.tail) {
			uint64_t e = rt->active.e[rt->active.head++ % rt->active.cap];
			if (entry_live(rt, e) && (rt->state[e & FIFO_PAGE_MASK] & PS_MASK) != PS_CACHED)
				buf[n++] = e & FIFO_PAGE_MASK;
		}
		if (n)
			deactivate(rt, buf, n);
	}
	int deactivated = n > 0;
	n = 0;
	while (n < want && rt->inactive.head != rt->inactive.tail) {
		uint64_t e = rt->inactive.e[rt->inactive.head++ % rt->inactive.cap];
		if (entry_live(rt, e))
			buf[n++] = e & FIFO_PAGE_MASK;
	}
	if (!n)
		return deactivated ? -1 : 0;
	qsort(buf, n, sizeof(buf[0]), cmp_u64);
	for (uint64_t i = 0; i < n;) {
		uint64_t j = i + 1;
		while (j < n && buf[j] == buf[j - 1] + 1)
			j++;
		evict_run(rt, buf[i], j - i);
		i = j;
	}
	return (int)n;
}

/*
 * Feedback-sized reserve (the `hermit` policy asks for it).  Hermit moves reclaim off
 * the fault path and sizes the reclaim work by the fault rate, so that a burst of
 * faults finds free pages instead of reclaiming itself.  Here: every millisecond the
 * pager measures the fault rate (an EWMA over 1 ms windows) and sets the reserve to
 * the faults expected in the next RESERVE_MS milliseconds, never below the configured
 * watermarks and never above 1/8 of the budget.
 */
#define RESERVE_MS 2.0
void fs_reclaim_feedback(fs_runtime *rt, uint64_t now)
{
	if (!rt->rate_window_start) {
		rt->rate_window_start = now;
		rt->rate_window_faults = atomic_load_explicit(&rt->c.faults, memory_order_relaxed);
		return;
	}
	uint64_t dt = now - rt->rate_window_start;
	if (dt < 1000000)
		return;
	uint64_t f = atomic_load_explicit(&rt->c.faults, memory_order_relaxed);
	double rate = (double)(f - rt->rate_window_faults) * 1e6 / (double)dt;
	rt->fault_rate_ewma = 0.7 * rt->fault_rate_ewma + 0.3 * rate;
	rt->rate_window_start = now;
	rt->rate_window_faults = f;
	uint64_t want = (uint64_t)(rt->fault_rate_ewma * RESERVE_MS);
	uint64_t cap = FS_MAX(rt->budget / 8, rt->base_free_high);
	rt->free_high = FS_MIN(FS_MAX(want, rt->base_free_high), cap);
	rt->free_low = FS_MAX(rt->free_high / 2, rt->base_free_low);
}
