/*
 * readahead.c - Linux swap readahead, as FastSwap uses it.
 *
 * The kernel's swapin_nr_pages(): on every swap-cache miss it reads a window of
 * `pages` pages aligned around the faulting page, sized by how many readahead pages
 * were hit since the previous miss, capped at 2^page-cluster (8 pages), and never
 * shrunk by more than half at a time,
 * where `hits` counts readahead pages touched since the previous miss (swap-cache hits
 * on pages with the readahead flag).  Kernel code (mm/swap_state.c, __swapin_nr_pages):
 *
 *     pages = hits + 2;
 *     if (pages == 2) { if (offset != prev_offset + 1 && offset != prev_offset - 1) pages = 1; }
 *     else pages = roundup_pow_of_two(pages);
 *     if (pages > max_pages) pages = max_pages;
 *     if (pages < prev_win / 2) pages = prev_win / 2;   // shrink at most by half
 *
 * We keep that state per thread (the kernel keeps it per VMA/global; per thread keeps
 * interleaved threads from resetting each other, and is what the fault stream gives).
 * Hits (FS_EV_HIT events) only feed the counter; readahead is issued on misses.
 *
 * A page mapped on arrival (prefetch_map=direct) is never seen touched: the policy is
 * told of it as an assumed hit (FS_EVF_ASSUMED).  Such hits are held against the window
 * that brought them, and count only once a later miss of the thread lands within one
 * window's length of that window (the program is at it, or went on past it, up or
 * down).  The thread's last RA_WINDOWS windows are remembered, so that interleaved
 * scans of several arrays each get their credit; the hits of a window that falls out of
 * that memory, and those of pages no window brought (a stream's), are dropped.
 * Counting every assumed hit at once made every window the largest whatever the
 * program did: sssp at 50% (size small) issued 28.7M prefetches, 5% of them used, and
 * ran 5x slower than with faults on first touch (docs/TUNING.md section 7).
 */
#include "prefetch/policy.h"
#include "prefetch/ra_window.h"
#include "common/util.h"

#include <stdlib.h>

#define RA_THREADS 256

#define RA_WINDOWS 8

struct ra_thread {
	uint64_t prev_page;
	uint32_t hits;
	uint32_t prev_win;
	struct ra_recent {   /* the thread's last windows, and their unconfirmed hits */
		uint64_t start, end;
		uint32_t assumed;
	} w[RA_WINDOWS];
	uint32_t next_w;
};

struct readahead {
	fs_policy base;
	uint32_t max_pages;
	struct ra_thread t[RA_THREADS];
};

uint32_t fs_pow2_ceil(uint32_t v)
{
	uint32_t p = 1;
	while (p < v)
		p <<= 1;
	return p;
}

static int ra_create(const fs_config *cfg, fs_policy **out, char *err, size_t errlen)
{
	extern const fs_policy_ops fs_policy_readahead;
	struct readahead *ra = calloc(1, sizeof(*ra));
	if (!ra)
		return FS_ENOMEM;
	ra->base.ops = &fs_policy_readahead;
	ra->max_pages = fs_pow2_ceil(cfg->readahead_max ? cfg->readahead_max : 8);
	if (ra->max_pages > FS_POLICY_MAX_CANDIDATES)
		ra->max_pages = FS_POLICY_MAX_CANDIDATES;
	for (int i = 0; i < RA_THREADS; i++)
		ra->t[i].prev_win = 1;
	*out = &ra->base;
	return FS_OK;
}

/* The window for a miss at `page`, updating the thread's state (__swapin_nr_pages). */
uint32_t fs_readahead_window(uint32_t *hits, uint32_t *prev_win, uint64_t prev_page,
			     uint64_t page, uint32_t max_pages)
{
	uint32_t pages = *hits + 2;
	*hits = 0;
	if (pages == 2) {
		if (page != prev_page + 1 && page + 1 != prev_page)
			pages = 1;
	} else {
		pages = fs_pow2_ceil(pages);
	}
	if (pages > max_pages)
		pages = max_pages;
	uint32_t last = *prev_win;
	if (pages < last / 2)
		pages = last / 2;
	*prev_win = pages;
	return pages;
}

static int ra_on_event(fs_policy *p, const fs_event *ev, uint64_t *out, int max)
{
	struct readahead *ra = (struct readahead *)p;
	struct ra_thread *t = &ra->t[ev->thread % RA_THREADS];
	if (ev->kind == FS_EV_HIT) {
		if (!(ev->flags & FS_EVF_ASSUMED)) {
			t->hits++;
			return 0;
		}
		for (int k = 1; k <= RA_WINDOWS; k++) { /* the newest window that has it */
			struct ra_recent *w = &t->w[(t->next_w + RA_WINDOWS - k) % RA_WINDOWS];
			if (ev->page >= w->start && ev->page < w->end) {
				w->assumed++;
				break;
			}
		}
		return 0;
	}
	for (int i = 0; i < RA_WINDOWS; i++) {
		struct ra_recent *w = &t->w[i];
		uint64_t len = w->end - w->start;
		if (ev->page + len >= w->start && ev->page < w->end + len) {
			t->hits += w->assumed; /* the program is at it, or went on past it */
			w->assumed = 0;
		}
	}
	uint32_t win = fs_readahead_window(&t->hits, &t->prev_win, t->prev_page, ev->page,
					   ra->max_pages);
	t->prev_page = ev->page;
	uint64_t start = win > 1 ? ev->page & ~(uint64_t)(win - 1) : ev->page;
	t->w[t->next_w] = (struct ra_recent){ start, start + (win > 1 ? win : 1), 0 };
	t->next_w = (t->next_w + 1) % RA_WINDOWS;
	return fs_readahead_cluster(ev->page, win, out, max);
}

int fs_readahead_cluster(uint64_t page, uint32_t win, uint64_t *out, int max)
{
	if (win <= 1)
		return 0;
	/* Aligned window containing the faulting page, as swap_cluster_readahead does. */
	uint64_t start = page & ~(uint64_t)(win - 1);
	int n = 0;
	for (uint64_t pg = start; pg < start + win && n < max; pg++)
		if (pg != page)
			out[n++] = pg;
	return n;
}

static void ra_destroy(fs_policy *p) { free(p); }

const fs_policy_ops fs_policy_readahead = {
	.name = "readahead",
	.help = "Linux swap readahead (FastSwap): aligned window of up to 8 pages, sized by hits",
	.create = ra_create,
	.on_event = ra_on_event,
	.destroy = ra_destroy,
};
