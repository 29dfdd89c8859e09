/*
 * replay.c - trace replay through a policy with an LRU local-cache model (design in
 * replay.h).  The cache is a pagetable (page -> node) plus a doubly linked LRU list
 * over a fixed node array of N entries.
 */
#include "trace/replay.h"
#include "model/pagetable.h"
#include "common/util.h"

#include <stdlib.h>
#include <string.h>

#define NIL UINT32_MAX

struct cache {
	fs_pagetable idx;
	uint64_t *page;
	uint64_t *issued; /* event index of the prefetch, or UINT64_MAX if demand/touched */
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
	c->prev = malloc(cap * sizeof(uint32_t));
	c->next = malloc(cap * sizeof(uint32_t));
	if (!c->page || !c->issued || !c->prev || !c->next ||
	    fs_pt_init(&c->idx, cap < (1u << 20) ? cap * 2 : (1u << 21)))
		return FS_ENOMEM;
	return FS_OK;
}

static void cache_free(struct cache *c)
{
	fs_pt_free(&c->idx);
	free(c->page);
	free(c->issued);
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
	lru_front(c, e);
	return fs_pt_put(&c->idx, page, e);
}

/* Pages prefetched for one event and not yet told to the policy as assumed hits
 * (arrival.map), in arrival order, with their chain depth. */
struct arrivals {
	uint64_t *page;
	uint8_t *depth;
	size_t n, cap;
};

static int arrivals_push(struct arrivals *a, uint64_t page, uint8_t depth)
{
	if (a->n == a->cap) {
		size_t cap = a->cap ? a->cap * 2 : 256;
		uint64_t *p = realloc(a->page, cap * sizeof(*p));
		if (p)
			a->page = p;
		uint8_t *d = realloc(a->depth, cap);
		if (d)
			a->depth = d;
		if (!p || !d)
			return FS_ENOMEM;
		a->cap = cap;
	}
	a->page[a->n] = page;
	a->depth[a->n++] = depth;
	return FS_OK;
}

/* Prefetch cand[0..nc) that are not cached; with arrival.map each is queued as an
 * assumed hit of chain depth `depth`. */
static int prefetch(struct cache *c, const fs_replay_opts *o, const uint64_t *cand, int nc,
		    size_t i, uint8_t depth, struct arrivals *arr, fs_replay_result *r)
{
	int rc = FS_OK;
	for (int j = 0; j < nc && !rc; j++) {
		if (fs_pt_get(&c->idx, cand[j]) != FS_PT_NONE)
			continue;
		r->prefetches++;
		rc = cache_insert(c, cand[j], i, r);
		if (!rc && o->arrival.map)
			rc = arrivals_push(arr, cand[j], depth);
	}
	return rc;
}

int fs_replay(fs_policy *p, const fs_event *ev, size_t n, const fs_replay_opts *o,
	      fs_replay_result *r)
{
	memset(r, 0, sizeof(*r));
	struct cache c;
	int rc = cache_init(&c, o->cache_pages);
	if (rc) {
		cache_free(&c);
		return rc;
	}
	uint64_t cand[FS_POLICY_MAX_CANDIDATES];
	uint64_t policy_ns = 0;
	uint32_t max_depth = o->arrival.chain_depth;
	struct arrivals arr = { 0 };
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
			if (o->arrival.map)
				continue; /* mapped on arrival: told as an assumed hit then */
			e.kind = FS_EV_HIT;
		} else {
			r->misses++;
			rc = cache_insert(&c, e.page, UINT64_MAX, r);
			e.kind = FS_EV_MISS;
		}
		uint64_t t0 = fs_now_ns();
		int nc = p->ops->on_event(p, &e, cand, FS_POLICY_MAX_CANDIDATES);
		policy_ns += fs_now_ns() - t0;
		r->candidates += nc > 0 ? (uint64_t)nc : 0;
		arr.n = 0;
		if (!rc)
			rc = prefetch(&c, o, cand, nc, i, 0, &arr, r);
		/* The pages just prefetched arrive, each an assumed hit; a chain's candidates
		 * arrive after them (appended: walk by index, as the pager does). */
		for (size_t k = 0; k < arr.n && !rc; k++) {
			fs_event a = fs_assumed_event(arr.page[k], e.time_ns, e.thread);
			/* As the pager: a chain's step only below its depth, else the
			 * policy just learns of the hit.  Both count as the policy's time
			 * for the real event (ns/event covers the chain). */
			int deeper = o->arrival.chain && arr.depth[k] < max_depth;
			t0 = fs_now_ns();
			nc = p->ops->on_event(p, &a, cand, deeper ? FS_POLICY_MAX_CANDIDATES : 0);
			policy_ns += fs_now_ns() - t0;
			if (!deeper)
				continue;
			r->candidates += nc > 0 ? (uint64_t)nc : 0;
			rc = prefetch(&c, o, cand, nc, i, (uint8_t)(arr.depth[k] + 1), &arr, r);
		}
	}
	free(arr.page);
	free(arr.depth);
	for (uint32_t e = 0; e < c.n; e++)
		r->unused_at_end += c.issued[e] != UINT64_MAX;
	r->precision = r->prefetches ? (double)r->hits / r->prefetches : 0.0;
	r->coverage = r->hits + r->misses ? (double)r->hits / (r->hits + r->misses) : 0.0;
	r->timeliness = r->hits ? (double)(r->hits - r->late_hits) / r->hits : 0.0;
	r->policy_mem_bytes = p->ops->mem_bytes ? p->ops->mem_bytes(p) : 0;
	r->policy_ns_per_event = r->events ? (double)policy_ns / r->events : 0.0;
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
