/*
 * sssp.c - the `sssp` workload: single-source shortest paths over a weighted Kronecker
 * or uniform-random CSR graph (GAP's weighted input: weights 1..255).
 *
 * Dijkstra with a binary heap and lazy deletion (a vertex may sit in the heap several
 * times; stale entries are skipped when popped), GAP's reference algorithm.  The heap
 * and the distance array are touched in data-dependent order: the irregular pattern
 * the paper's SSSP stresses.  Several sources (chosen from the seed) are solved one
 * after another, so the kernel dominates the generation time.  Checksum: FNV-1a over
 * every source's distance array (integers, so exact).
 */
#include "graph.h"

#include <stdio.h>
#include <stdlib.h>

#define SSSP_DEGREE 16

typedef struct heap_item {
	uint32_t dist;
	uint32_t v;
} heap_item;

int wl_sssp_run(const wl_graph *g, uint32_t source, uint32_t *dist)
{
	uint64_t cap = (uint64_t)g->n + 1024, len = 0;
	heap_item *heap = wl_alloc(cap * sizeof *heap, "the SSSP heap");
	int relaxed_any = 0;

	for (uint32_t v = 0; v < g->n; v++)
		dist[v] = WL_DIST_INF;
	dist[source] = 0;
	heap[len++] = (heap_item){ 0, source };
	while (len) {
		heap_item top = heap[0], last = heap[--len];
		/* sift `last` down from the root */
		uint64_t i = 0;
		for (;;) {
			uint64_t c = 2 * i + 1;
			if (c >= len)
				break;
			if (c + 1 < len && heap[c + 1].dist < heap[c].dist)
				c++;
			if (heap[c].dist >= last.dist)
				break;
			heap[i] = heap[c];
			i = c;
		}
		if (len)
			heap[i] = last;
		if (top.dist > dist[top.v])
			continue; /* stale entry: a shorter path was settled earlier */
		for (uint64_t e = g->offsets[top.v]; e < g->offsets[top.v + 1]; e++) {
			uint32_t u = g->neighbors[e], nd = top.dist + g->weights[e];
			if (nd >= dist[u])
				continue;
			dist[u] = nd;
			relaxed_any = 1;
			if (len == cap) {
				cap *= 2;
				heap_item *bigger = realloc(heap, cap * sizeof *heap);
				if (!bigger) {
					free(heap);
					wl_alloc((size_t)-1 / 2, "the SSSP heap");
				}
				heap = bigger;
			}
			/* sift up */
			uint64_t j = len++;
			while (j && heap[(j - 1) / 2].dist > nd) {
				heap[j] = heap[(j - 1) / 2];
				j = (j - 1) / 2;
			}
			heap[j] = (heap_item){ nd, u };
		}
	}
	free(heap);
	return relaxed_any;
}

uint32_t wl_sssp_pick_source(const wl_graph *g, uint64_t seed, int k)
{
	wl_rng r;
	wl_rng_seed(&r, seed, 100 + (uint64_t)k);
	for (;;) {
		uint32_t v = (uint32_t)wl_rng_below(&r, g->n);
		if (g->offsets[v + 1] > g->offsets[v])
			return v;
	}
}

int wl_sssp(const wl_args *a)
{
	int scale = wl_graph_scale(a, 20, 22);
	int sources = a->size == WL_TINY ? 1 : 3;
	wl_graph g;
	double t0 = wl_now();
	wl_graph_generate(&g, a->graph, scale, SSSP_DEGREE, a->seed, 1);
	double t1 = wl_now();
	uint32_t *dist = wl_alloc((size_t)g.n * sizeof *dist, "the SSSP distances");
	uint64_t h = WL_FNV_SEED, reached = 0, far = 0;
	for (int k = 0; k < sources; k++) {
		uint32_t s = wl_sssp_pick_source(&g, a->seed, k);
		wl_sssp_run(&g, s, dist);
		h = wl_fnv1a(dist, (size_t)g.n * sizeof *dist, wl_fnv_u64(h, s));
		for (uint32_t v = 0; v < g.n; v++)
			if (dist[v] != WL_DIST_INF) {
				reached++;
				if (dist[v] > far)
					far = dist[v];
			}
	}
	double t2 = wl_now();
	printf("sssp: %s graph, scale %d, %u vertices, %llu adjacency entries, %d sources\n",
	       a->graph == WL_KRON ? "kron" : "urand", scale, g.n, (unsigned long long)g.m, sources);
	printf("reached %llu vertex-source pairs, largest distance %llu\n",
	       (unsigned long long)reached, (unsigned long long)far);
	free(dist);
	wl_graph_free(&g);
	wl_report(a, t1 - t0, t2 - t1, h);
	return 0;
}
