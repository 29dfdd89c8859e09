/*
 * page.h - the page states of the far-memory arena and their transitions (internal).
 *
 * Every page of the arena has one state byte.  This module is the only code that
 * writes one: each transition below changes the state, the local-page counters, the
 * reclaim lists and the statistics together, so they cannot disagree, and performs
 * the kernel work the transition needs (map, unmap, write-protect, release) through a
 * small table of operations, fs_page_ops.  The runtime gives it the real operations
 * (userfaultfd ioctls, madvise, fallocate on the arena memfd, backend writes); the unit
 * test (tests/test_page.c) gives it fakes and checks the invariants of the table in
 * docs/ARCHITECTURE.md without userfaultfd.
 *
 *   state   meaning                                         counts as local
 *   ZERO    never written, or discarded: no far copy        no
 *   FAR     the backend holds it                            no
 *   FETCH   a backend read is in flight into its frame      yes
 *   CACHED  in the page cache, not mapped: prefetched and   yes (n_cached)
 *           not yet touched, or unmapped by the clock
 *   MAPPED  mapped, write-protected (clean)                 yes
 *   DIRTY   mapped and written                              yes
 *
 *   ZERO   --zero_fill-->  MAPPED | DIRTY
 *   FAR    --fetch------>  FETCH (demand: a waiter; prefetch: PREFETCHED)
 *   FETCH  --wait------->  FETCH + waiter (a late hit if it was prefetched)
 *   FETCH  --land------->  MAPPED | DIRTY (a waiter, or mapped on arrival) | CACHED
 *   CACHED --touch------>  MAPPED | DIRTY (a prefetch hit, or a reactivation)
 *   MAPPED --written---->  DIRTY (the first write to a write-protected page)
 *   MAPPED | DIRTY --deactivate--> CACHED (DIRTYDATA if it was dirty)
 *   local  --clean------>  the same state, far copy valid (written back)
 *   local  --evict------>  FAR (a valid far copy) | ZERO (never written)
 *   any    --discard---->  ZERO
 *
 * The flags: PREFETCHED (brought in by a prefetch, not touched yet), WAITER and
 * WAITER_W (a thread waits on a FETCH page, and its fault was a write), HASFAR (the
 * backend's copy is valid), DIRTYDATA (a CACHED page newer than its far copy),
 * TRIPWIRE (a FETCH page to keep unmapped on arrival; the bit DIRTYDATA uses in
 * CACHED).
 *
 * Invariants (checked by fs_pages_check, which the unit test calls after every step):
 * local = pages in FETCH, CACHED, MAPPED or DIRTY, and local <= budget; n_cached =
 * pages in CACHED; each local page other than FETCH has exactly one live entry on the
 * reclaim lists (on the inactive list iff CACHED, when the clock runs), non-local and
 * FETCH pages none; DIRTYDATA only on CACHED pages, waiters only on FETCH pages,
 * PREFETCHED only on FETCH and CACHED pages.
 *
 * The reclaim lists are two rings of (page | generation << 48): active (mapped pages)
 * and inactive (pages in the page cache but unmapped).  With reclaim=fifo all go to
 * inactive.  A page's 16-bit generation is bumped whenever it is queued or leaves the
 * cache, so older entries of it are recognisably stale and skipped.
 *
 * Calls are serialised by the caller (the pager).
 */
#ifndef FS_PAGE_H
#define FS_PAGE_H

#include "farsight.h"

#include <stdatomic.h>
#include <stdint.h>

/* States: the low 3 bits of the state byte. */
enum {
	PS_ZERO = 0,
	PS_FAR = 1,
	PS_FETCH = 2,
	PS_CACHED = 3,
	PS_MAPPED = 4,
	PS_DIRTY = 5,
};
#define PS_MASK 0x07
#define PF_DIRTYDATA 0x08
#define PF_TRIPWIRE 0x08 /* the same bit, in FETCH only: keep it unmapped on arrival */
#define PF_PREFETCHED 0x10
#define PF_WAITER 0x20
#define PF_WAITER_W 0x40
#define PF_HASFAR 0x80

static inline int ps_is_local(uint8_t s)
{
	return (s & PS_MASK) >= PS_FETCH;
}

#define FS_PAGE_WRITE_MAX 256 /* pages per write-back */

/* The kernel (and backend) work the transitions need; ctx is handed back. */
typedef struct fs_page_ops {
	/* Map n pages that are in the page cache into the program's view; write-protected
	 * (so the first write faults) unless `writable`.  Must succeed or end the process. */
	void (*map)(void *ctx, uint64_t page, uint64_t n, int writable);
	/* Unmap n mapped pages from the program's view; the page cache keeps them. */
	void (*unmap)(void *ctx, uint64_t page, uint64_t n);
	/* Write-protect n mapped pages, so a racing write waits while they are copied out
	 * (without write-protect support: unmap them, so a touch waits in a fault). */
	void (*protect)(void *ctx, uint64_t page, uint64_t n);
	/* Lift the write protection of one page and wake the thread whose write faulted. */
	void (*unprotect)(void *ctx, uint64_t page);
	/* Start the write-back of n (<= FS_PAGE_WRITE_MAX) pages' contents to the
	 * backend.  FS_OK, or FS_EFULL when the backend's queue is full (nothing was
	 * taken: drain completions and call again). */
	int (*write_back)(void *ctx, uint64_t page, uint64_t n);
	/* Release n frames (the pages leave the page cache and both views). */
	void (*release)(void *ctx, uint64_t page, uint64_t n);
	/* Put a zeroed frame for `page` into the page cache. */
	void (*zero)(void *ctx, uint64_t page);
	/* The backend may forget its copies of n pages (discard). */
	void (*forget)(void *ctx, uint64_t page, uint64_t n);
} fs_page_ops;

struct fs_ring {
	uint64_t *e;
	uint64_t cap, head, tail;
};

/* The counters a transition updates (a subset of the runtime's statistics). */
struct fs_page_counts {
	_Atomic uint64_t zero_fills, prefetch_hits, late_hits, wasted_prefetches, evictions,
		writebacks, reactivations, prefetches_mapped, peak_pages;
};

typedef struct fs_pages {
	uint64_t npages;
	uint8_t *state; /* npages bytes */
	uint16_t *gen;  /* npages entries */
	uint64_t budget;   /* pages */
	uint64_t local;    /* pages in FETCH, CACHED, MAPPED or DIRTY */
	uint64_t n_cached; /* pages in CACHED */
	int clock;         /* reclaim=clock: mapped pages on the active list */
	int have_wp;       /* pages can be mapped write-protected (exact dirty tracking) */
	int arrival_front; /* pages mapped on arrival are first in line for reclaim */
	struct fs_ring active, inactive;
	struct fs_page_counts *count;
	const fs_page_ops *ops;
	void *ctx;
} fs_pages;

/* Allocate the state, generation and list memory for npages pages (sparse, so an
 * arena of 64 GiB costs nothing until pages are used). */
int fs_pages_init(fs_pages *p, uint64_t npages, uint64_t budget, int clock, int have_wp,
		  struct fs_page_counts *count, const fs_page_ops *ops, void *ctx);
void fs_pages_fini(fs_pages *p);

static inline uint8_t fs_page_state(const fs_pages *p, uint64_t page)
{
	return p->state[page];
}
static inline uint64_t fs_pages_free(const fs_pages *p)
{
	return p->local >= p->budget ? 0 : p->budget - p->local;
}

/* ZERO -> mapped: a zeroed frame, no backend round trip. */
void fs_page_zero_fill(fs_pages *p, uint64_t page, int write);
/* FAR -> FETCH, taking a frame.  A demand fetch (FS_FETCH_DEMAND) gets a waiter
 * (FS_FETCH_WRITE: its fault was a write); a prefetch is marked PREFETCHED, and a
 * FS_FETCH_TRIPWIRE prefetch is never mapped on arrival: its first touch faults, which
 * tells the prefetcher that the program reached it (prefetch/driver.h, streams).
 * Returns 0, or -1 if the page is not FAR. */
enum { FS_FETCH_DEMAND = 1, FS_FETCH_WRITE = 2, FS_FETCH_TRIPWIRE = 4 };
int fs_page_fetch(fs_pages *p, uint64_t page, unsigned how);
/* A fault on a FETCH page: it gets a waiter.  Returns 1 if that makes it a late hit
 * (it was prefetched and nobody had touched it), 2 if a thread already waited, 0 else. */
int fs_page_wait(fs_pages *p, uint64_t page, int write);

/* What landing did to one page. */
enum { FS_LAND_GONE = 0, FS_LAND_WAITER, FS_LAND_CACHED, FS_LAND_MAPPED };
/* A backend read of the run [page, page+n) completed: each page still in FETCH is
 * mapped for its waiter, mapped on arrival (map_prefetched and PREFETCHED: the pages of
 * the run that can be are mapped with one operation), or kept CACHED.  Pages discarded
 * while in flight are skipped.  The pages mapped on arrival are written to arrived[]
 * (room for n), their count returned. */
int fs_page_land(fs_pages *p, uint64_t page, uint32_t n, int map_prefetched, uint64_t *arrived);

/* A fault on a CACHED page maps it.  Returns 1 for a prefetch hit (it was prefetched
 * and not touched yet), 0 for a reactivation (the clock had unmapped it). */
int fs_page_touch(fs_pages *p, uint64_t page, int write);
/* A write fault on a write-protected page: the protection is lifted (waking the
 * writer), MAPPED becomes DIRTY; a CACHED page (unmapped by the clock after the fault was
 * raised) is reactivated writable.  Returns 0 if the page was MAPPED (the
 * dirty-tracking fault), 1 if it was CACHED (a reactivation), 2 otherwise (already
 * DIRTY, or no longer local: the retry faults normally). */
int fs_page_written(fs_pages *p, uint64_t page);

/* Unmap mapped pages (any order; sorted here) onto the inactive list: the clock's
 * reference bit is the minor fault that maps a page back. */
void fs_page_deactivate(fs_pages *p, uint64_t *pages, uint64_t n);
/* Write back the dirty pages of [page, page+n) that need it; each written run becomes
 * clean (its far copy valid).  FS_OK, or FS_EFULL when the backend's queue filled: the
 * pages written so far are clean, drain completions and call again. */
int fs_page_clean(fs_pages *p, uint64_t page, uint64_t n);
/* Evict the local run [page, page+n) (no FETCH page in it): write back what is dirty,
 * release the frames; pages with a valid far copy become FAR, the others ZERO (a
 * never-written zero page).  FS_OK, or FS_EFULL as fs_page_clean (nothing released). */
int fs_page_evict(fs_pages *p, uint64_t page, uint64_t n);
/* Every page of [page, page+n) becomes ZERO: local frames released, far copies
 * forgotten.  No page of the range may be in FETCH (land reads in flight first). */
void fs_page_discard(fs_pages *p, uint64_t page, uint64_t n);

/* The reclaim lists, for victim choice (reclaim.c).  Pop the next live entry (a local
 * page queued there and not queued again since); FS_PAGE_NONE when the list is empty. */
#define FS_PAGE_NONE UINT64_MAX
uint64_t fs_pages_pop_active(fs_pages *p);
uint64_t fs_pages_pop_inactive(fs_pages *p);

/* A child forked without exec (fork.c) starts from its parent's states: every local
 * page of [0, upto) becomes CACHED, unmapped (its content is the parent's until first
 * use), DIRTYDATA if it was newer than its far copy; the lists are rebuilt.  No page
 * may be in FETCH (the parent landed every read before the fork). */
void fs_pages_inherit(fs_pages *p, uint64_t upto);

/* Check every invariant above over pages [0, upto); 0, or -1 with a sentence in err. */
int fs_pages_check(const fs_pages *p, uint64_t upto, char *err, size_t errlen);

#endif
