/*
 * reclaim.c - the local cache's watermarks and victim choice.
 *
 * Local memory is a budget in pages.  A page counts against it from the moment a
 * fetch into it is issued until it is evicted (FETCH, CACHED, MAPPED, DIRTY; the page
 * module keeps the count), so the budget is never exceeded, not even transiently:
 * local_mem_peak_bytes <= budget.
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
 * faults as the reference bit.  What eviction does to each kind of page (write back
 * what is dirty, release the frame) is the page module's (page.c, fs_page_evict).
 */
#include "runtime/runtime.h"

#include <stdlib.h>

#define MAX_BATCH 256

void fs_reclaim_init(fs_runtime *rt)
{
	uint64_t budget = rt->pages.budget;
	/* The watermarks are settings, but never more than 1/32 and 1/16 of a small
	 * budget: free pages are local memory the program cannot use. */
	rt->free_low = FS_MIN((uint64_t)rt->cfg.free_low_pages, FS_MAX(budget / 32, 2));
	rt->free_high = FS_MIN((uint64_t)rt->cfg.free_high_pages, FS_MAX(budget / 16, 4));
	if (rt->free_high <= rt->free_low)
		rt->free_high = rt->free_low + 1;
	rt->base_free_low = rt->free_low;
	rt->base_free_high = rt->free_high;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* Evict a run; a full write-back queue is drained here (the one drain) and the run
 * taken up again, so the run is evicted when this returns. */
static void evict_run(fs_runtime *rt, uint64_t page, uint64_t n)
{
	while (fs_page_evict(&rt->pages, page, n) == FS_EFULL)
		fs_drain(rt, -1);
}

int fs_reclaim(fs_runtime *rt, uint64_t want_free)
{
	fs_pages *P = &rt->pages;
	uint64_t freepg = fs_pages_free(P);
	if (freepg >= want_free)
		return 0;
	uint64_t want = FS_MIN(want_free - freepg, (uint64_t)FS_MAX(rt->cfg.reclaim_batch, 1u));
	want = FS_MIN(want, (uint64_t)MAX_BATCH);
	uint64_t buf[MAX_BATCH];
	uint64_t n = 0;
	if (P->clock) {
		/* Keep the inactive list at a quarter of the budget (at least two batches):
		 * long enough that a page in use is touched, and so reactivated, before the
		 * hand reaches it there; short enough that few pages in use pay a minor
		 * fault.  The kernel balances its lists the same way. */
		uint64_t target = FS_MAX(P->budget / 4, 2 * want);
		uint64_t pg;
		while (P->n_cached + n < target && n < MAX_BATCH &&
		       (pg = fs_pages_pop_active(P)) != FS_PAGE_NONE)
			buf[n++] = pg;
		if (n)
			fs_page_deactivate(P, buf, n);
	}
	int deactivated = n > 0;
	n = 0;
	uint64_t pg;
	while (n < want && (pg = fs_pages_pop_inactive(P)) != FS_PAGE_NONE)
		buf[n++] = pg;
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
	uint64_t cap = FS_MAX(rt->pages.budget / 8, rt->base_free_high);
	rt->free_high = FS_MIN(FS_MAX(want, rt->base_free_high), cap);
	rt->free_low = FS_MAX(rt->free_high / 2, rt->base_free_low);
}
