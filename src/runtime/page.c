/*
 * page.c - the page-state transitions (design and state table in page.h).
 *
 * Each transition is written once, here, with the counters and reclaim lists it keeps
 * consistent and the kernel work it needs; the pager (fault handling, landing),
 * reclaim (victim choice) and the runtime's discard command only choose which
 * transition to make.  The order inside a transition matters where a thread is woken:
 * a statistic is counted before the map that wakes the faulting thread, so a program
 * that reads its own statistics right after a touch sees the touch counted.
 */
#include "runtime/page.h"
#include "common/util.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define GEN_SHIFT 48
#define PAGE_MASK ((1ull << GEN_SHIFT) - 1)

#define COUNT(p, field, n) atomic_fetch_add_explicit(&(p)->count->field, (n), memory_order_relaxed)

/* ---- memory ---------------------------------------------------------------------- */

static void *sparse(uint64_t bytes)
{
	void *m = fs_sys_mmap(NULL, bytes, PROT_READ | PROT_WRITE,
			      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	return m == MAP_FAILED ? NULL : m;
}

static int ring_init(struct fs_ring *r, uint64_t cap)
{
	r->cap = cap;
	r->head = r->tail = 0;
	r->e = sparse(cap * sizeof(uint64_t));
	return r->e ? FS_OK : FS_ENOMEM;
}

int fs_pages_init(fs_pages *p, uint64_t npages, uint64_t budget, int clock, int have_wp,
		  struct fs_page_counts *count, const fs_page_ops *ops, void *ctx)
{
	memset(p, 0, sizeof(*p));
	p->npages = npages;
	p->budget = budget;
	p->clock = clock;
	p->have_wp = have_wp;
	p->count = count;
	p->ops = ops;
	p->ctx = ctx;
	p->state = sparse(npages);
	p->gen = sparse(npages * sizeof(uint16_t));
	/* A ring holds at most one live entry per local page plus stale ones, which
	 * compaction removes when it fills; a power of two keeps positions contiguous
	 * across the wrap of head and tail. */
	uint64_t cap = 4096;
	while (cap < budget * 2 + 4096)
		cap <<= 1;
	if (!p->state || !p->gen || ring_init(&p->active, cap) || ring_init(&p->inactive, cap)) {
		fs_pages_fini(p);
		return FS_ENOMEM;
	}
	return FS_OK;
}

void fs_pages_fini(fs_pages *p)
{
	if (p->state)
		fs_sys_munmap(p->state, p->npages);
	if (p->gen)
		fs_sys_munmap(p->gen, p->npages * sizeof(uint16_t));
	if (p->active.e)
		fs_sys_munmap(p->active.e, p->active.cap * sizeof(uint64_t));
	if (p->inactive.e)
		fs_sys_munmap(p->inactive.e, p->inactive.cap * sizeof(uint64_t));
	p->state = NULL;
	p->gen = NULL;
	p->active.e = p->inactive.e = NULL;
}

/* ---- counters and lists ---------------------------------------------------------- */

static void take_frames(fs_pages *p, uint64_t n)
{
	p->local += n;
	if (p->local > atomic_load_explicit(&p->count->peak_pages, memory_order_relaxed))
		atomic_store_explicit(&p->count->peak_pages, p->local, memory_order_relaxed);
}

static int entry_live(const fs_pages *p, uint64_t e)
{
	uint64_t page = e & PAGE_MASK;
	uint8_t k = p->state[page] & PS_MASK;
	return p->gen[page] == (uint16_t)(e >> GEN_SHIFT) &&
	       (k == PS_CACHED || k == PS_MAPPED || k == PS_DIRTY);
}

/* Drop stale entries when a ring is full. */
static void ring_compact(fs_pages *p, struct fs_ring *r)
{
	uint64_t out = r->head;
	for (uint64_t i = r->head; i != r->tail; i++) {
		uint64_t e = r->e[i % r->cap];
		if (entry_live(p, e))
			r->e[out++ % r->cap] = e;
	}
	r->tail = out;
}

/* The list the page's state belongs on, with room for one entry; bumps the page's
 * generation, so its older entries, on either list, are stale from now on. */
static struct fs_ring *ring_for(fs_pages *p, uint64_t page)
{
	uint8_t k = p->state[page] & PS_MASK;
	struct fs_ring *r = (p->clock && k != PS_CACHED) ? &p->active : &p->inactive;
	p->gen[page]++;
	if (r->tail - r->head == r->cap)
		ring_compact(p, r);
	if (r->tail - r->head == r->cap) {
		/* Cannot happen: a ring has room for twice the budget's live entries. */
		fs_log(0, "reclaim list overflow (%llu entries); this is a bug",
		       (unsigned long long)r->cap);
		abort();
	}
	return r;
}

static void queue_back(fs_pages *p, uint64_t page)
{
	struct fs_ring *r = ring_for(p, page);
	r->e[r->tail++ % r->cap] = page | ((uint64_t)p->gen[page] << GEN_SHIFT);
}

/* First in line for reclaim: a page mapped on arrival has not been used yet, like a
 * readahead page the kernel puts on its inactive list. */
static void queue_front(fs_pages *p, uint64_t page)
{
	struct fs_ring *r = ring_for(p, page);
	r->head--; /* wraps correctly: cap is a power of two */
	r->e[r->head % r->cap] = page | ((uint64_t)p->gen[page] << GEN_SHIFT);
}

static uint64_t ring_pop(fs_pages *p, struct fs_ring *r)
{
	while (r->head != r->tail) {
		uint64_t e = r->e[r->head++ % r->cap];
		if (entry_live(p, e))
			return e & PAGE_MASK;
	}
	return FS_PAGE_NONE;
}

uint64_t fs_pages_pop_active(fs_pages *p)
{
	return ring_pop(p, &p->active);
}

uint64_t fs_pages_pop_inactive(fs_pages *p)
{
	return ring_pop(p, &p->inactive);
}

/* Map n pages and set their state: DIRTY if mapped writable (a write fault, contents
 * newer than the far copy, or no write-protect to track the first write), else MAPPED.
 * HASFAR is kept, every other flag cleared. */
static void map_pages(fs_pages *p, uint64_t page, uint64_t n, int writable)
{
	writable = writable || !p->have_wp;
	p->ops->map(p->ctx, page, n, writable);
	for (uint64_t k = 0; k < n; k++) {
		uint8_t far = p->state[page + k] & PF_HASFAR;
		p->state[page + k] = far | (writable ? PS_DIRTY : PS_MAPPED);
	}
}

/* ---- transitions ------------------------------------------------------------------ */

void fs_page_zero_fill(fs_pages *p, uint64_t page, int write)
{
	p->ops->zero(p->ctx, page);
	take_frames(p, 1);
	COUNT(p, zero_fills, 1);
	map_pages(p, page, 1, write);
	queue_back(p, page);
}

int fs_page_fetch(fs_pages *p, uint64_t page, unsigned how)
{
	if ((p->state[page] & PS_MASK) != PS_FAR)
		return -1;
	uint8_t f = (how & FS_FETCH_DEMAND)
			    ? PF_WAITER | ((how & FS_FETCH_WRITE) ? PF_WAITER_W : 0)
			    : PF_PREFETCHED | ((how & FS_FETCH_TRIPWIRE) ? PF_TRIPWIRE : 0);
	p->state[page] = PS_FETCH | PF_HASFAR | f;
	take_frames(p, 1);
	return 0;
}

int fs_page_wait(fs_pages *p, uint64_t page, int write)
{
	uint8_t s = p->state[page];
	int late = (s & PF_PREFETCHED) != 0;
	int had = (s & PF_WAITER) != 0;
	s = (uint8_t)((s & ~(PF_PREFETCHED | PF_TRIPWIRE)) | PF_WAITER | (write ? PF_WAITER_W : 0));
	p->state[page] = s;
	if (late) {
		COUNT(p, prefetch_hits, 1);
		COUNT(p, late_hits, 1);
		return 1;
	}
	return had ? 2 : 0;
}

static int mappable_on_arrival(uint8_t s)
{
	return (s & (PS_MASK | PF_PREFETCHED | PF_WAITER | PF_TRIPWIRE)) ==
	       (PS_FETCH | PF_PREFETCHED);
}

int fs_page_land(fs_pages *p, uint64_t page, uint32_t n, int map_prefetched, uint64_t *arrived)
{
	int na = 0;
	for (uint32_t k = 0; k < n; k++) {
		uint64_t pg = page + k;
		uint8_t s = p->state[pg];
		if ((s & PS_MASK) != PS_FETCH)
			continue; /* discarded while in flight */
		if (s & PF_WAITER) {
			map_pages(p, pg, 1, (s & PF_WAITER_W) != 0);
			queue_back(p, pg);
		} else if (map_prefetched && mappable_on_arrival(s)) {
			/* With the pages of the run after it that can be: one map operation. */
			uint32_t e = k + 1;
			while (e < n && mappable_on_arrival(p->state[page + e]))
				e++;
			COUNT(p, prefetches_mapped, e - k);
			map_pages(p, pg, e - k, 0);
			for (uint32_t j = k; j < e; j++) {
				if (p->arrival_front)
					queue_front(p, page + j);
				else
					queue_back(p, page + j);
				arrived[na++] = page + j;
			}
			k = e - 1;
		} else {
			p->state[pg] = PS_CACHED | PF_HASFAR | (s & PF_PREFETCHED);
			p->n_cached++;
			queue_back(p, pg);
		}
	}
	return na;
}

int fs_page_touch(fs_pages *p, uint64_t page, int write)
{
	uint8_t s = p->state[page];
	p->n_cached--;
	int hit = (s & PF_PREFETCHED) != 0;
	if (hit)
		COUNT(p, prefetch_hits, 1);
	else /* the clock had unmapped it: in use, its second chance */
		COUNT(p, reactivations, 1);
	map_pages(p, page, 1, write || (s & PF_DIRTYDATA));
	queue_back(p, page);
	return hit;
}

int fs_page_written(fs_pages *p, uint64_t page)
{
	p->ops->unprotect(p->ctx, page);
	uint8_t s = p->state[page];
	switch (s & PS_MASK) {
	case PS_MAPPED:
		p->state[page] = PS_DIRTY | (s & PF_HASFAR);
		return 0;
	case PS_CACHED: /* unmapped by the clock after this write fault was raised */
		COUNT(p, reactivations, 1);
		p->n_cached--;
		map_pages(p, page, 1, 1);
		queue_back(p, page);
		return 1;
	default: /* DIRTY already; or not local: the retry faults normally */
		return 2;
	}
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

void fs_page_deactivate(fs_pages *p, uint64_t *pages, uint64_t n)
{
	qsort(pages, n, sizeof(pages[0]), cmp_u64);
	for (uint64_t i = 0; i < n;) {
		uint64_t j = i + 1;
		while (j < n && pages[j] == pages[j - 1] + 1)
			j++;
		p->ops->unmap(p->ctx, pages[i], j - i);
		i = j;
	}
	for (uint64_t i = 0; i < n; i++) {
		uint8_t s = p->state[pages[i]];
		uint8_t dirty = (s & PS_MASK) == PS_DIRTY ? PF_DIRTYDATA : 0;
		p->state[pages[i]] = PS_CACHED | dirty | (s & PF_HASFAR);
		p->n_cached++;
		queue_back(p, pages[i]);
	}
}

static int needs_writeback(uint8_t s)
{
	return (s & PS_MASK) == PS_DIRTY || ((s & PS_MASK) == PS_CACHED && (s & PF_DIRTYDATA));
}

/* Write back one run of pages that all need it; they become clean. */
static int clean_run(fs_pages *p, uint64_t page, uint64_t n)
{
	/* Stop writes to the mapped ones first: a racing write then waits in a fault
	 * instead of being lost after the copy. */
	for (uint64_t a = 0; a < n;) {
		if ((p->state[page + a] & PS_MASK) != PS_DIRTY) {
			a++;
			continue;
		}
		uint64_t b = a;
		while (b < n && (p->state[page + b] & PS_MASK) == PS_DIRTY)
			b++;
		p->ops->protect(p->ctx, page + a, b - a);
		a = b;
	}
	int rc = p->ops->write_back(p->ctx, page, n);
	if (rc)
		return rc;
	COUNT(p, writebacks, n);
	for (uint64_t k = 0; k < n; k++) {
		uint8_t s = p->state[page + k];
		if ((s & PS_MASK) == PS_DIRTY && p->have_wp) {
			p->state[page + k] = PS_MAPPED | PF_HASFAR; /* protected now: clean */
		} else if ((s & PS_MASK) == PS_DIRTY) {
			/* protect() unmapped it (no write-protect here): in the page cache */
			p->state[page + k] = PS_CACHED | PF_HASFAR;
			p->n_cached++;
			queue_back(p, page + k);
		} else {
			p->state[page + k] = PS_CACHED | PF_HASFAR;
		}
	}
	return FS_OK;
}

int fs_page_clean(fs_pages *p, uint64_t page, uint64_t n)
{
	for (uint64_t i = 0; i < n;) {
		if (!needs_writeback(p->state[page + i])) {
			i++;
			continue;
		}
		uint64_t j = i;
		while (j < n && j - i < FS_PAGE_WRITE_MAX && needs_writeback(p->state[page + j]))
			j++;
		int rc = clean_run(p, page + i, j - i);
		if (rc)
			return rc;
		i = j;
	}
	return FS_OK;
}

int fs_page_evict(fs_pages *p, uint64_t page, uint64_t n)
{
	int rc = fs_page_clean(p, page, n);
	if (rc)
		return rc;
	p->ops->release(p->ctx, page, n);
	for (uint64_t i = 0; i < n; i++) {
		uint64_t pg = page + i;
		uint8_t s = p->state[pg];
		if ((s & PS_MASK) == PS_CACHED) {
			if (s & PF_PREFETCHED)
				COUNT(p, wasted_prefetches, 1);
			p->n_cached--;
		}
		/* Clean now: a valid far copy, or a page that was never written (zero). */
		p->state[pg] = (s & PF_HASFAR) ? (PS_FAR | PF_HASFAR) : PS_ZERO;
		p->gen[pg]++;
	}
	p->local -= n;
	COUNT(p, evictions, n);
	return FS_OK;
}

void fs_page_discard(fs_pages *p, uint64_t page, uint64_t n)
{
	uint64_t dropped = 0;
	for (uint64_t pg = page; pg < page + n; pg++) {
		uint8_t s = p->state[pg];
		if (ps_is_local(s)) {
			dropped++;
			if ((s & PS_MASK) == PS_CACHED) {
				p->n_cached--;
				if (s & PF_PREFETCHED)
					COUNT(p, wasted_prefetches, 1);
			}
			p->gen[pg]++;
		}
		p->state[pg] = PS_ZERO;
	}
	p->local -= dropped;
	p->ops->release(p->ctx, page, n);
	p->ops->forget(p->ctx, page, n);
}

/* ---- invariants -------------------------------------------------------------------- */

void fs_pages_inherit(fs_pages *p, uint64_t upto)
{
	p->active.head = p->active.tail = 0;
	p->inactive.head = p->inactive.tail = 0;
	p->n_cached = 0;
	uint64_t local = 0;
	for (uint64_t pg = 0; pg < upto; pg++) {
		uint8_t s = p->state[pg];
		if (!ps_is_local(s))
			continue;
		uint8_t k = s & PS_MASK;
		uint8_t dirty = (k == PS_DIRTY || (k == PS_CACHED && (s & PF_DIRTYDATA))) ? PF_DIRTYDATA : 0;
		p->state[pg] = PS_CACHED | dirty | (s & PF_HASFAR);
		p->n_cached++;
		local++;
		queue_back(p, pg);
	}
	p->local = local;
}

int fs_pages_check(const fs_pages *p, uint64_t upto, char *err, size_t errlen)
{
	uint64_t local = 0, cached = 0;
	uint8_t *live = calloc(upto ? upto : 1, 1); /* live list entries per page */
	if (!live) {
		fs_errf(err, errlen, "out of memory");
		return -1;
	}
	const struct fs_ring *rings[2] = { &p->active, &p->inactive };
	for (int r = 0; r < 2; r++)
		for (uint64_t i = rings[r]->head; i != rings[r]->tail; i++) {
			uint64_t e = rings[r]->e[i % rings[r]->cap];
			uint64_t pg = e & PAGE_MASK;
			if (pg >= upto) {
				fs_errf(err, errlen, "list entry for page %llu beyond %llu",
					(unsigned long long)pg, (unsigned long long)upto);
				free(live);
				return -1;
			}
			if (!entry_live(p, e))
				continue;
			uint8_t k = p->state[pg] & PS_MASK;
			if (p->clock && (r == 1) != (k == PS_CACHED)) {
				fs_errf(err, errlen, "page %llu (state %d) is on the %s list",
					(unsigned long long)pg, k, r ? "inactive" : "active");
				free(live);
				return -1;
			}
			live[pg]++;
		}
	int rc = 0;
	for (uint64_t pg = 0; pg < upto && !rc; pg++) {
		uint8_t s = p->state[pg], k = s & PS_MASK;
		const char *bad = NULL;
		if (k > PS_DIRTY)
			bad = "an unknown state";
		else if ((s & PF_DIRTYDATA) && k != PS_CACHED && !(k == PS_FETCH && (s & PF_PREFETCHED)))
			bad = "DIRTYDATA (TRIPWIRE) outside CACHED (a prefetch in FETCH)";
		else if ((s & (PF_WAITER | PF_WAITER_W)) && k != PS_FETCH)
			bad = "a waiter outside FETCH";
		else if ((s & PF_PREFETCHED) && k != PS_FETCH && k != PS_CACHED)
			bad = "PREFETCHED outside FETCH and CACHED";
		else if (k == PS_ZERO && (s & PF_HASFAR))
			bad = "ZERO with a far copy";
		else if (k == PS_FAR && !(s & PF_HASFAR))
			bad = "FAR without a far copy";
		else if (ps_is_local(s) && k != PS_FETCH && live[pg] != 1)
			bad = live[pg] ? "on the reclaim lists twice" : "local but on no reclaim list";
		else if ((!ps_is_local(s) || k == PS_FETCH) && live[pg])
			bad = "on a reclaim list while not evictable";
		if (bad) {
			fs_errf(err, errlen, "page %llu (state byte 0x%02x): %s",
				(unsigned long long)pg, s, bad);
			rc = -1;
		}
		local += ps_is_local(s);
		cached += k == PS_CACHED;
	}
	free(live);
	if (rc)
		return rc;
	if (local != p->local || cached != p->n_cached || p->local > p->budget) {
		fs_errf(err, errlen,
			"counters: local %llu (counted %llu, budget %llu), cached %llu (counted %llu)",
			(unsigned long long)p->local, (unsigned long long)local,
			(unsigned long long)p->budget, (unsigned long long)p->n_cached,
			(unsigned long long)cached);
		return -1;
	}
	return 0;
}
