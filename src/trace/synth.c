/*
 * synth.c - synthetic fault traces (kinds described in synth.h).
 *
 * Each generator produces page accesses; emit() passes them through a 32-page LRU
 * (a linear array: tiny, and the generators are not hot) and appends only misses,
 * as a far-memory runtime with a small local cache would see them.
 */
#include "trace/synth.h"
#include "common/util.h"

#include <stdlib.h>
#include <string.h>

#define FILTER 32

struct gen {
	fs_event *ev;
	size_t n, max;
	uint64_t rng;
	uint64_t lru[4][FILTER]; /* per thread */
	int lru_n[4];
};

static uint64_t rnd(struct gen *g)
{
	g->rng ^= g->rng >> 12;
	g->rng ^= g->rng << 25;
	g->rng ^= g->rng >> 27;
	return g->rng * 0x2545f4914f6cdd1dull;
}
static uint64_t below(struct gen *g, uint64_t n) { return rnd(g) % n; }

static void emit(struct gen *g, uint64_t page, int thread)
{
	if (g->n >= g->max)
		return;
	uint64_t *l = g->lru[thread];
	int n = g->lru_n[thread], i;
	for (i = 0; i < n; i++)
		if (l[i] == page)
			break;
	int hit = i < n;
	if (!hit)
		i = n < FILTER ? n++ : FILTER - 1;
	memmove(l + 1, l, (size_t)i * sizeof(*l));
	l[0] = page;
	g->lru_n[thread] = n;
	if (hit)
		return;
	fs_event *e = &g->ev[g->n];
	e->page = page;
	e->time_ns = g->n * 1000;
	e->thread = (uint16_t)thread;
	e->kind = FS_EV_MISS;
	e->flags = 0;
	g->n++;
}

static void gen_scan(struct gen *g, int stride_kind, int thread)
{
	const uint64_t base = 1u << 20, span = 1u << 16;
	uint64_t start = base + below(g, span);
	uint64_t len = 64 + below(g, 448);
	uint64_t stride = stride_kind ? 2 + below(g, 5) : 1;
	for (uint64_t i = 0; i < len && g->n < g->max; i++)
		emit(g, start + i * stride, thread);
}

/* A fixed graph over `nv` pages: node i has deg[i] successors succ[i][0..]. */
struct graph {
	uint32_t nv;
	uint32_t *off, *adj;
};

static int graph_make(struct graph *gr, struct gen *g, uint32_t nv, uint32_t maxdeg)
{
	gr->nv = nv;
	gr->off = malloc((nv + 1) * sizeof(uint32_t));
	gr->adj = malloc((size_t)nv * maxdeg * sizeof(uint32_t));
	if (!gr->off || !gr->adj)
		return FS_ENOMEM;
	uint32_t m = 0;
	for (uint32_t v = 0; v < nv; v++) {
		gr->off[v] = m;
		uint32_t d = 1 + (uint32_t)below(g, maxdeg);
		for (uint32_t j = 0; j < d; j++)
			gr->adj[m++] = (uint32_t)below(g, nv);
	}
	gr->off[nv] = m;
	return FS_OK;
}

static void graph_free(struct graph *gr)
{
	free(gr->off);
	free(gr->adj);
}

static int gen_chase(struct gen *g, int thread, size_t until)
{
	struct graph gr;
	const uint64_t base = 1u << 22;
	int rc = graph_make(&gr, g, 20000, 4);
	if (rc)
		goto out;
	/* nodes live on pages in a fixed permutation (allocation order), not by index */
	uint32_t v = 0;
	while (g->n < until) {
		emit(g, base + v * 7919u % gr.nv, thread);
		uint32_t d = gr.off[v + 1] - gr.off[v];
		/* edge j with probability ~ 2^-(j+1): the first edge dominates */
		uint32_t j = 0;
		while (j + 1 < d && (rnd(g) & 1))
			j++;
		v = gr.adj[gr.off[v] + j];
		if (below(g, 1000) == 0)
			v = (uint32_t)below(g, gr.nv); /* occasional restart */
	}
out:
	graph_free(&gr);
	return rc;
}

static int gen_bfs(struct gen *g)
{
	struct graph gr;
	const uint32_t nv = 50000;
	int rc = graph_make(&gr, g, nv, 8);
	uint32_t *queue = malloc(nv * sizeof(uint32_t));
	uint8_t *seen = malloc(nv);
	if (rc || !queue || !seen) {
		rc = FS_ENOMEM;
		goto out;
	}
	/* page layout: offsets (1024 per page), edges (1024 per page), vertex data (16
	 * per page), in separate regions */
	const uint64_t off_base = 1u << 20, adj_base = 2u << 20, dat_base = 3u << 20;
	while (g->n < g->max) {
		memset(seen, 0, nv);
		uint32_t head = 0, tail = 0, src = (uint32_t)below(g, nv);
		queue[tail++] = src;
		seen[src] = 1;
		while (head < tail && g->n < g->max) {
			uint32_t v = queue[head++];
			emit(g, off_base + v / 1024, 0);
			for (uint32_t e = gr.off[v]; e < gr.off[v + 1]; e++) {
				emit(g, adj_base + e / 1024, 0);
				uint32_t w = gr.adj[e];
				emit(g, dat_base + w / 16, 0);
				if (!seen[w]) {
					seen[w] = 1;
					queue[tail++] = w;
				}
			}
		}
	}
out:
	free(queue);
	free(seen);
	graph_free(&gr);
	return rc;
}

int fs_synth_trace(const char *spec, fs_trace_info *info, fs_event **events, size_t *n,
		   char *err, size_t errlen)
{
	char kind[32] = "";
	unsigned long long seed = 1, count = 200000;
	const char *p = spec + (strncmp(spec, "synth:", 6) ? 0 : 6);
	int k = 0;
	while (p[k] && p[k] != ':' && k < 31) {
		kind[k] = p[k];
		k++;
	}
	kind[k] = 0;
	if (p[k] == ':') {
		char *end;
		seed = strtoull(p + k + 1, &end, 10);
		if (*end == ':')
			count = strtoull(end + 1, &end, 10);
		if (*end || count == 0 || count > 100000000ull) {
			fs_errf(err, errlen, "bad synthetic trace '%s': use synth:KIND[:SEED[:EVENTS]]"
				" with EVENTS 1..1e8", spec);
			return FS_EINVAL;
		}
	}
	struct gen g;
	memset(&g, 0, sizeof(g));
	g.rng = seed * 0x9e3779b97f4a7c15ull + 77;
	g.max = count;
	g.ev = calloc(count, sizeof(fs_event));
	if (!g.ev)
		return FS_ENOMEM;
	int rc = FS_OK;
	if (!strcmp(kind, "seq") || !strcmp(kind, "stride")) {
		while (g.n < g.max)
			gen_scan(&g, kind[1] == 't', 0);
	} else if (!strcmp(kind, "chase")) {
		rc = gen_chase(&g, 0, g.max);
	} else if (!strcmp(kind, "bfs")) {
		rc = gen_bfs(&g);
	} else if (!strcmp(kind, "mix")) {
		/* thread 1 chases (generated first into a side buffer), thread 0 scans;
		 * interleaved in blocks of 4 events */
		struct gen c = g;
		c.max = count / 2;
		c.ev = calloc(c.max, sizeof(fs_event));
		if (!c.ev) {
			free(g.ev);
			return FS_ENOMEM;
		}
		rc = gen_chase(&c, 1, c.max);
		struct gen s = g;
		s.rng ^= 0x5555;
		s.max = count - c.max;
		s.ev = calloc(s.max ? s.max : 1, sizeof(fs_event));
		if (!s.ev) {
			free(c.ev);
			free(g.ev);
			return FS_ENOMEM;
		}
		while (s.n < s.max)
			gen_scan(&s, 0, 0);
		size_t i = 0, j = 0;
		while (i < c.n || j < s.n) {
			for (int b = 0; b < 4 && i < c.n; b++)
				g.ev[g.n++] = c.ev[i++];
			for (int b = 0; b < 4 && j < s.n; b++)
				g.ev[g.n++] = s.ev[j++];
		}
		for (size_t t = 0; t < g.n; t++)
			g.ev[t].time_ns = t * 1000;
		free(c.ev);
		free(s.ev);
	} else {
		fs_errf(err, errlen, "unknown synthetic trace kind '%s' in '%s': use seq, stride, "
			"chase, bfs or mix", kind, spec);
		rc = FS_EINVAL;
	}
	if (rc) {
		free(g.ev);
		return rc;
	}
	memset(info, 0, sizeof(*info));
	info->version = 1;
	info->n_events = g.n;
	info->local_mem = 0;
	snprintf(info->prefetch, sizeof(info->prefetch), "none");
	snprintf(info->command, sizeof(info->command), "synth:%s:%llu:%llu", kind, seed, count);
	info->command_hash = fs_fnv1a(info->command, strlen(info->command), FS_FNV_SEED);
	*events = g.ev;
	*n = g.n;
	return FS_OK;
}
