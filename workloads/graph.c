/*
 * graph.c - Kronecker and uniform-random graph generators and the CSR builder
 * (see graph.h for the model).  The edge list is generated into two plain arrays,
 * turned into CSR by a counting pass, and freed: both phases are part of the
 * workload's footprint, as they are in GAP when it generates its input.
 */
#include "graph.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Graph500 / GAP Kronecker quadrant probabilities, as 32-bit thresholds so that one
 * 64-bit random number decides two recursion levels. */
#define KRON_A 0.57
#define KRON_B 0.19
#define KRON_C 0.19
static const uint64_t T_A = (uint64_t)(KRON_A * 4294967296.0);
static const uint64_t T_AB = (uint64_t)((KRON_A + KRON_B) * 4294967296.0);
static const uint64_t T_ABC = (uint64_t)((KRON_A + KRON_B + KRON_C) * 4294967296.0);

static void kron_edge(wl_rng *r, int scale, uint32_t *src, uint32_t *dst)
{
	uint32_t u = 0, v = 0;
	uint64_t bits = 0;
	for (int depth = 0; depth < scale; depth++) {
		if (!(depth & 1))
			bits = wl_rng_next(r);
		uint64_t p = (depth & 1) ? (bits >> 32) : (bits & 0xffffffffu);
		u <<= 1;
		v <<= 1;
		if (p < T_AB) {
			if (p >= T_A)
				v |= 1;
		} else {
			u |= 1;
			if (p >= T_ABC)
				v |= 1;
		}
	}
	*src = u;
	*dst = v;
}

int wl_graph_scale(const wl_args *a, int small_scale, int full_scale)
{
	if (a->scale)
		return a->scale;
	return a->size == WL_TINY ? 12 : a->size == WL_SMALL ? small_scale : full_scale;
}

int wl_graph_generate(wl_graph *g, wl_graph_kind kind, int scale, int degree, uint64_t seed,
		      int weighted)
{
	uint32_t n = 1u << scale;
	uint64_t edges = (uint64_t)n * degree;
	uint32_t *src = wl_alloc(edges * sizeof *src, "the edge list");
	uint32_t *dst = wl_alloc(edges * sizeof *dst, "the edge list");
	uint32_t *w = weighted ? wl_alloc(edges * sizeof *w, "the edge weights") : NULL;
	wl_rng r;

	wl_rng_seed(&r, seed, 1);
	for (uint64_t e = 0; e < edges; e++) {
		if (kind == WL_KRON) {
			kron_edge(&r, scale, &src[e], &dst[e]);
		} else {
			uint64_t x = wl_rng_next(&r);
			src[e] = (uint32_t)(x & (n - 1));
			dst[e] = (uint32_t)((x >> 32) & (n - 1));
		}
	}
	if (kind == WL_KRON) {
		/* Kronecker ids concentrate high degree on low ids; GAP and Graph500 shuffle
		 * them so that locality is not an artefact of the generator. */
		uint32_t *perm = wl_alloc((size_t)n * sizeof *perm, "the vertex permutation");
		wl_rng_seed(&r, seed, 2);
		for (uint32_t i = 0; i < n; i++)
			perm[i] = i;
		for (uint32_t i = n - 1; i > 0; i--) {
			uint32_t j = (uint32_t)wl_rng_below(&r, (uint64_t)i + 1), t = perm[i];
			perm[i] = perm[j];
			perm[j] = t;
		}
		for (uint64_t e = 0; e < edges; e++) {
			src[e] = perm[src[e]];
			dst[e] = perm[dst[e]];
		}
		free(perm);
	}
	if (w) {
		wl_rng_seed(&r, seed, 3);
		for (uint64_t e = 0; e < edges; e++)
			w[e] = 1 + (uint32_t)wl_rng_below(&r, 255);
	}

	/* CSR: count both directions, prefix-sum, fill. */
	g->n = n;
	g->offsets = calloc((size_t)n + 1, sizeof *g->offsets);
	if (!g->offsets)
		wl_alloc((size_t)-1 / 2, "the CSR offsets");
	for (uint64_t e = 0; e < edges; e++)
		if (src[e] != dst[e]) {
			g->offsets[src[e] + 1]++;
			g->offsets[dst[e] + 1]++;
		}
	for (uint32_t v = 0; v < n; v++)
		g->offsets[v + 1] += g->offsets[v];
	g->m = g->offsets[n];
	g->neighbors = wl_alloc(g->m * sizeof *g->neighbors, "the CSR neighbour lists");
	g->weights = w ? wl_alloc(g->m * sizeof *g->weights, "the CSR weights") : NULL;
	uint64_t *fill = wl_alloc((size_t)n * sizeof *fill, "the CSR fill cursors");
	memcpy(fill, g->offsets, (size_t)n * sizeof *fill);
	for (uint64_t e = 0; e < edges; e++) {
		uint32_t u = src[e], v = dst[e];
		if (u == v)
			continue;
		uint64_t iu = fill[u]++, iv = fill[v]++;
		g->neighbors[iu] = v;
		g->neighbors[iv] = u;
		if (w) {
			g->weights[iu] = w[e];
			g->weights[iv] = w[e];
		}
	}
	free(fill);
	free(src);
	free(dst);
	free(w);
	return 0;
}

void wl_graph_free(wl_graph *g)
{
	free(g->offsets);
	free(g->neighbors);
	free(g->weights);
	memset(g, 0, sizeof *g);
}
