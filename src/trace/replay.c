/*
 * replay.c - trace replay through a policy with an LRU local-cache model (design in
 * replay.h).  The cache is a pagetable (page -> node) plus a doubly linked LRU list
 * over a fixed node array of N entries.
 */
#include "trace/replay.h"
#include "prefetch/driver.h"
#include "model/pagetable.h"
#include "common/util.h"

#include <stdlib.h>
#include <string.h>

#define NIL UINT32_MAX

struct cache {
	fs_pagetable idx;
	uint64_t *page;
	uint64_t *issued; /* event index of the prefetch, or UINT64_MAX if demand/touched */
	uint8_t *trip;    /* a stream's tripwire: its touch is seen even when mapped on arrival */
	uint32_t *prev, *next;
	uint32_t head, tail, n, cap;
};

static int cache_init(struct cache *c, uint64_t cap)
{
	memset(c, 0, sizeof(*c));
	if (cap < 1 || cap > UINT32_MAX - 1)
		return FS_EINVAL;
	c->cap = (uint32_t)cap;
	c->head = c->tail = NIL;
	c->page = malloc(cap * sizeof(uint64_t));
	c->issued = malloc(cap * sizeof(uint64_t));
	c->trip = malloc(cap);
	c->prev = malloc(cap * sizeof(uint32_t));
	c->next = malloc(cap * sizeof(uint32_t));
	if (!c->page || !c->issued || !c->trip || !c->prev || !c->next ||
	    fs_pt_init(&c->idx, cap < (1u << 20) ? cap * 2 : (1u << 21)))
		return FS_ENOMEM;
	return FS_OK;
}

static void cache_free(struct cache *c)
{
	fs_pt_free(&c->idx);
	free(c->page);
	free(c->issued);
	free(c->trip);
	free(c->prev);
	free(c->next);
}

static void lru_unlink(struct cache *c, uint32_t e)
{
	if (c->prev[e] != NIL)
		c->next[c->prev[e]] = c->next[e];
	else
		c->head = c->next[e];
	if (c->next[e] != NIL)
		c->prev[c->next[e]] = c->prev[e];
	else
		c->tail = c->prev[e];
}

static void lru_front(struct cache *c, uint32_t e)
{
	c->prev[e] = NIL;
	c->next[e] = c->head;
	if (c->head != NIL)
		c->prev[c->head] = e;
	c->head = e;
	if (c->tail == NIL)
		c->tail = e;
}

/* Insert page at MRU; returns 0 or FS_ENOMEM; counts a wasted prefetch on eviction. */
static int cache_insert(struct cache *c, uint64_t page, uint64_t issued, fs_replay_result *r)
{
	uint32_t e;
	if (c->n < c->cap) {
		e = c->n++;
	} else {
		e = c->tail;
		lru_unlink(c, e);
		fs_pt_del(&c->idx, c->page[e]);
		if (c->issued[e] != UINT64_MAX)
			r->wasted++;
	}
	c->page[e] = page;
	c->issued[e] = issued;
	c->trip[e] = 0;
	lru_front(c, e);
	return fs_pt_put(&c->idx, page, e);
}

/* Prefetch cand[0..nc) that are not cached; with arrival.map each is mapped on
 * arrival, so the driver is told of its assumed hit (of chain depth `depth`). */
static int prefetch(struct cache *c, fs_driver *d, const uint64_t *cand, int nc, size_t i,
		    uint32_t depth, const fs_event *e, fs_replay_result *r)
{
	int rc = FS_OK;
	r->candidates += nc > 0 ? (uint64_t)nc : 0;
	for (int j = 0; j < nc && !rc; j++) {
		uint64_t pg = FS_CAND_PAGE(cand[j]);
		if (fs_pt_get(&c->idx, pg) != FS_PT_NONE)
			continue;
		r->prefetches++;
		rc = cache_insert(c, pg, i, r);
		if (rc)
			break;
		if (cand[j] & FS_CAND_TRIPWIRE) /* not mapped on arrival: its touch is an event */
			c->trip[fs_pt_get(&c->idx, pg)] = 1;
		else if (d->arrival.map)
			fs_driver_arrived(d, pg, e->thread, depth, e->time_ns);
	}
	return rc;
}

int fs_replay(fs_policy *p, const fs_event *ev, size_t n, const fs_replay_opts *o,
	      fs_replay_result *r)
{
	memset(r, 0, sizeof(*r));
	struct cache c;
	int rc = cache_init(&c, o->cache_pages);
	fs_driver *d = malloc(sizeof(*d));
	if (rc || !d) {
		cache_free(&c);
		free(d);
		return rc ? rc : FS_ENOMEM;
	}
	/* The driver the pager uses: the same calls, in the same order, for the same
	 * events and arrivals. */
	fs_driver_init(d, p, &o->arrival);
	uint64_t cand[FS_POLICY_MAX_CANDIDATES];
	for (size_t i = 0; i < n && !rc; i++) {
		fs_event e = ev[i];
		uint32_t node = fs_pt_get(&c.idx, e.page);
		r->events++;
		if (node != FS_PT_NONE) {
			lru_unlink(&c, node);
			lru_front(&c, node);
			if (c.issued[node] == UINT64_MAX) {
				r->resident++;
				continue; /* mapped page: the runtime sees nothing */
			}
			r->hits++;
			if (i - c.issued[node] < o->delay_events)
				r->late_hits++;
			c.issued[node] = UINT64_MAX;
			if (o->arrival.map && !c.trip[node])
				continue; /* mapped on arrival: told as an assumed hit then */
			e.kind = FS_EV_HIT;
		} else {
			r->misses++;
			rc = cache_insert(&c, e.page, UINT64_MAX, r);
			e.kind = FS_EV_MISS;
		}
		int nc = fs_driver_event(d, &e, cand, FS_POLICY_MAX_CANDIDATES);
		if (!rc)
			rc = prefetch(&c, d, cand, nc, i, 0, &e, r);
		/* The pages just prefetched arrive, each an assumed hit; a chain's
		 * candidates arrive after them, as in the pager. */
		uint32_t depth;
		uint16_t thread;
		while (!rc && fs_driver_next(d, cand, FS_POLICY_MAX_CANDIDATES, &nc, &depth, &thread)) {
			fs_event a = fs_assumed_event(0, e.time_ns, thread);
			rc = prefetch(&c, d, cand, nc, i, depth, &a, r);
		}
	}
	for (uint32_t e = 0; e < c.n; e++)
		r->unused_at_end += c.issued[e] != UINT64_MAX;
	r->precision = r->prefetches ? (double)r->hits / r->prefetches : 0.0;
	r->coverage = r->hits + r->misses ? (double)r->hits / (r->hits + r->misses) : 0.0;
	r->timeliness = r->hits ? (double)(r->hits - r->late_hits) / r->hits : 0.0;
	r->policy_mem_bytes = p->ops->mem_bytes ? p->ops->mem_bytes(p) : 0;
	r->policy_ns_per_event = fs_driver_ns_per_event(d);
	free(d);
	cache_free(&c);
	return rc;
}

uint64_t fs_trace_footprint(const fs_event *ev, size_t n)
{
	fs_pagetable t;
	if (fs_pt_init(&t, 1024))
		return 0;
	for (size_t i = 0; i < n; i++)
		if (fs_pt_get(&t, ev[i].page) == FS_PT_NONE && fs_pt_put(&t, ev[i].page, 0))
			break;
	uint64_t c = t.count;
	fs_pt_free(&t);
	return c;
}
