/*
 * leap.c - Leap's majority-trend prefetcher (Al Maruf and Chowdhury, "Effectively
 * Prefetching Remote Memory with Leap", USENIX ATC'20).
 *
 * Mechanism (paper section 4, and its kernel patch, mm/swap_state.c):
 *  - Every access that reaches the swap system is logged into a history of the last
 *    H = 32 page deltas (log_swap_trend(), called from lookup_swap_cache(), so swap-cache
 *    hits are logged as well as misses).  Here: FS_EV_MISS and FS_EV_HIT events alike.
 *  - FindTrend runs Boyer-Moore majority vote over the most recent H/4 = 8 deltas; if no
 *    delta holds a strict majority (more than half of the window), over H/2 = 16, then
 *    over H = 32.  A majority delta is the trend.
 *  - With a trend, pages are read along it from the faulting page: page + d, page + 2d,
 *    ...; the window is sized like Linux readahead (hits since the last miss + 2, rounded
 *    up to a power of two, capped, never shrunk by more than half): that logic is
 *    fs_readahead_window() in readahead.c, shared through ra_window.h.  A window of W
 *    pages holds the faulting page and W-1 prefetches, as in the kernel patch (which
 *    loops count = 0..mask starting at the faulting offset).
 *  - Without a trend, Leap falls back to readahead: the aligned cluster around the fault.
 *
 * Choices where the paper and its code leave room (docs/BASELINES.md):
 *  - History per thread (the patch keeps one global history).  Our fault stream carries a
 *    thread index, and two threads streaming through different arrays would otherwise
 *    destroy each other's majority; per-thread history is what Leap's own design goal
 *    ("detect the trend of a process") needs once several threads fault at once.
 *  - A trend with no hits to size the window: the kernel's readahead rule would give a
 *    window of 1 (no prefetch) for any non-adjacent stride, and a stride would then never
 *    get started.  The paper's window rule (Algorithm 2, GetPrefetchWindowSize) prefetches
 *    one page along the trend when there were no hits but the fault follows the trend; so
 *    with a trend the window is at least 2 (the fault plus one page along it).
 *  - Prefetching on hits.  The patch calls its prefetcher only from swapin_readahead(),
 *    i.e. on swap-cache misses; hits only feed the history and the hit counter.  In the
 *    kernel that is enough because a hit is cheap and the next miss comes W pages later.
 *    We prefetch on hits too, when a trend holds: a hit is the paper's "Pt follows the
 *    current trend" case of Algorithm 2, and without it a perfectly predicted stream would
 *    still take one demand miss every W pages (the window only moves on misses), which
 *    is the opposite of what the trend detector is for.  On a hit the window is sized by
 *    the hits since the last miss, and never shrinks (a hit is a success); the pager drops
 *    the candidates that are already local or in flight, so each hit in a steady stream
 *    adds about one new page at the front of the window.  Misses size the window exactly
 *    as readahead does.
 *  - Delta 0 is never a trend (the kernel port in Canvas/Hermit excludes it as well).
 *    A window is always judged against its full size, its empty slots (a thread's
 *    first faults) counting as non-trend deltas, as in the patch's zero-filled history:
 *    a new thread shows a trend after 5 agreeing deltas, not after 1.
 * Not here: Leap's eager eviction of unused prefetched pages (its FIFO prefetch buffer)
 * and its lean data path; those belong to the runtime's cache and reclaim.
 *
 * Calls are serialised by the caller, as for every policy (policy.h).
 */
#include "prefetch/policy.h"
#include "prefetch/ra_window.h"
#include "common/util.h"

#include <stdlib.h>

#define LEAP_HISTORY 32  /* H */
#define LEAP_MIN_WINDOW (LEAP_HISTORY / 4)
#define LEAP_THREADS 256 /* thread slots; more threads share slots (index modulo) */

struct leap_thread {
	int64_t delta[LEAP_HISTORY]; /* ring of the last deltas, delta[head-1] newest */
	uint32_t head;
	uint32_t n;          /* deltas held, up to LEAP_HISTORY */
	int have_last;       /* last_page is valid */
	uint64_t last_page;  /* page of the previous event (miss or hit) */
	uint64_t prev_miss;  /* readahead state: page of the previous miss, */
	uint32_t hits;       /* prefetched pages hit since the previous miss, */
	uint32_t prev_win;   /* and the previous window */
};

struct leap {
	fs_policy base;
	uint32_t max_pages;
	struct leap_thread t[LEAP_THREADS];
};

static int leap_create(const fs_config *cfg, fs_policy **out, char *err, size_t errlen)
{
	extern const fs_policy_ops fs_policy_leap;
	struct leap *l = calloc(1, sizeof(*l));
	if (!l) {
		fs_errf(err, errlen, "out of memory for the leap policy");
		return FS_ENOMEM;
	}
	l->base.ops = &fs_policy_leap;
	l->max_pages = fs_pow2_ceil(cfg->readahead_max ? cfg->readahead_max : 8);
	if (l->max_pages > FS_POLICY_MAX_CANDIDATES)
		l->max_pages = FS_POLICY_MAX_CANDIDATES;
	for (int i = 0; i < LEAP_THREADS; i++)
		l->t[i].prev_win = 1;
	*out = &l->base;
	return FS_OK;
}

static void log_delta(struct leap_thread *t, int64_t d)
{
	t->delta[t->head] = d;
	t->head = (t->head + 1) % LEAP_HISTORY;
	if (t->n < LEAP_HISTORY)
		t->n++;
}

/* The i-th most recent delta (i = 0 is the newest). */
static int64_t recent(const struct leap_thread *t, uint32_t i)
{
	return t->delta[(t->head + LEAP_HISTORY - 1 - i) % LEAP_HISTORY];
}

/* Boyer-Moore majority vote over the window of the w most recent deltas: one pass finds
 * the only possible majority, a second counts it.  Returns 1 with *maj if it holds
 * strictly more than w/2 of them.  A window reaching past the deltas held counts its
 * empty slots as non-trend deltas, as the kernel patch's zero-filled history does, so a
 * thread's first trend needs more than w/2 = 4 agreeing deltas. */
static int majority(const struct leap_thread *t, uint32_t w, int64_t *maj)
{
	uint32_t m = FS_MIN(w, t->n);
	int64_t cand = 0;
	uint32_t count = 0;
	for (uint32_t i = 0; i < m; i++) {
		int64_t d = recent(t, i);
		if (count == 0) {
			cand = d;
			count = 1;
		} else if (d == cand) {
			count++;
		} else {
			count--;
		}
	}
	count = 0;
	for (uint32_t i = 0; i < m; i++)
		count += recent(t, i) == cand;
	*maj = cand;
	return 2 * count > w;
}

/* FindTrend: windows H/4, H/2, H.  Delta 0 is never a trend. */
static int find_trend(const struct leap_thread *t, int64_t *trend)
{
	for (uint32_t w = LEAP_MIN_WINDOW; w <= LEAP_HISTORY; w *= 2) {
		int64_t d;
		if (majority(t, w, &d) && d != 0) {
			*trend = d;
			return 1;
		}
		if (t->n <= w) /* larger windows only add empty slots */
			break;
	}
	return 0;
}

/* page + d, page + 2d, ... (count pages), stopping below page 0. */
static int along_trend(uint64_t page, int64_t d, uint32_t count, uint64_t *out, int max)
{
	int n = 0;
	uint64_t step = d < 0 ? (uint64_t)(-(d + 1)) + 1 : (uint64_t)d;
	uint64_t pg = page;
	for (uint32_t k = 0; k < count && n < max; k++) {
		if (d < 0) {
			if (pg < step)
				break;
			pg -= step;
		} else {
			pg += step;
		}
		out[n++] = pg;
	}
	return n;
}

static int leap_on_event(fs_policy *p, const fs_event *ev, uint64_t *out, int max)
{
	struct leap *l = (struct leap *)p;
	struct leap_thread *t = &l->t[ev->thread % LEAP_THREADS];
	if (t->have_last)
		log_delta(t, (int64_t)(ev->page - t->last_page));
	t->have_last = 1;
	t->last_page = ev->page;

	int64_t d = 0;
	int trend = find_trend(t, &d) && l->max_pages >= 2; /* readahead_max 1: no prefetch */
	if (ev->kind == FS_EV_HIT) {
		t->hits++;
		if (!trend)
			return 0; /* readahead issues nothing on a hit */
		/* The window the next miss would get from these hits, never below the current
		 * one: hits are successes, and shrinking happens only on misses. */
		uint32_t win = FS_MIN(fs_pow2_ceil(t->hits + 2), l->max_pages);
		win = FS_MAX(FS_MAX(win, t->prev_win), 2u);
		t->prev_win = win;
		return along_trend(ev->page, d, win - 1, out, max);
	}
	uint32_t win = fs_readahead_window(&t->hits, &t->prev_win, t->prev_miss, ev->page,
					   l->max_pages);
	t->prev_miss = ev->page;
	if (!trend)
		return fs_readahead_cluster(ev->page, win, out, max);
	if (win < 2) /* a trend but no hits yet: one page along it (Algorithm 2) */
		win = t->prev_win = 2;
	return along_trend(ev->page, d, win - 1, out, max);
}

static void leap_destroy(fs_policy *p) { free(p); }

const fs_policy_ops fs_policy_leap = {
	.name = "leap",
	.help = "Leap (ATC'20): majority page-delta trend over 8/16/32 deltas, else readahead",
	.create = leap_create,
	.on_event = leap_on_event,
	.destroy = leap_destroy,
};
