/*
 * graph.c - Kronecker and uniform-random graph generators and the CSR builder
 * (see graph.h for the model).  The edge list is generated into two plain arrays,
 * turned into CSR by a counting pass, and freed: both phases are part of the
 * workload's footprint, as they are in GAP when it generates its input.
 *
 * With FARSIGHT_GRAPH_CACHE=DIR the CSR is saved to DIR after it is built and loaded
 * from there by later runs with the same parameters, the way GAP benchmarks load a
 * serialised graph instead of generating it.  `farsight bench` sets it: the CSR
 * build's scattered writes are the input phase, not the kernel, and under far memory
 * they cost minutes while the kernel takes seconds.  The file has a header with the
 * parameters and sizes and is refused (and rebuilt) when it does not match.
 */
#include "graph.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct cache_header {
	char magic[8]; /* "FSGRAPH1" */
	uint32_t kind, scale, degree, weighted;
	uint64_t seed, n, m;
};

static void cache_path(char *out, size_t cap, const char *dir, wl_graph_kind kind, int scale,
		       int degree, uint64_t seed, int weighted)
{
	snprintf(out, cap, "%s/%s-s%d-d%d-seed%llu%s.csr", dir, kind == WL_KRON ? "kron" : "urand",
		 scale, degree, (unsigned long long)seed, weighted ? "-w" : "");
}

static int read_all(int fd, void *buf, size_t len)
{
	char *p = buf;
	while (len) {
		ssize_t r = read(fd, p, len > (1u << 26) ? (1u << 26) : len);
		if (r <= 0)
			return -1;
		p += r;
		len -= (size_t)r;
	}
	return 0;
}

static int write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	while (len) {
		ssize_t r = write(fd, p, len > (1u << 26) ? (1u << 26) : len);
		if (r <= 0)
			return -1;
		p += r;
		len -= (size_t)r;
	}
	return 0;
}

/* Load a cached CSR; 0 on success, -1 if absent or not matching. */
static int cache_load(wl_graph *g, const char *path, const struct cache_header *want)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	struct cache_header h;
	if (read_all(fd, &h, sizeof h) || memcmp(h.magic, "FSGRAPH1", 8) || h.kind != want->kind ||
	    h.scale != want->scale || h.degree != want->degree || h.weighted != want->weighted ||
	    h.seed != want->seed || h.n != ((uint64_t)1 << h.scale)) {
		close(fd);
		return -1;
	}
	g->n = (uint32_t)h.n;
	g->m = h.m;
	g->offsets = wl_alloc((h.n + 1) * sizeof *g->offsets, "the CSR offsets");
	g->neighbors = wl_alloc(h.m * sizeof *g->neighbors, "the CSR neighbour lists");
	g->weights = h.weighted ? wl_alloc(h.m * sizeof *g->weights, "the CSR weights") : NULL;
	int bad = read_all(fd, g->offsets, (h.n + 1) * sizeof *g->offsets) ||
		  read_all(fd, g->neighbors, h.m * sizeof *g->neighbors) ||
		  (g->weights && read_all(fd, g->weights, h.m * sizeof *g->weights)) ||
		  g->offsets[h.n] != h.m;
	close(fd);
	if (bad) {
		wl_graph_free(g);
		return -1;
	}
	return 0;
}

static void cache_save(const wl_graph *g, const char *path, const struct cache_header *h)
{
	char tmp[4200];
	snprintf(tmp, sizeof tmp, "%s.%d.tmp", path, (int)getpid());
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		fprintf(stderr, "graph cache: cannot write %s: %s (continuing without)\n", tmp,
			strerror(errno));
		return;
	}
	struct cache_header out = *h;
	out.m = g->m;
	int bad = write_all(fd, &out, sizeof out) ||
		  write_all(fd, g->offsets, ((size_t)g->n + 1) * sizeof *g->offsets) ||
		  write_all(fd, g->neighbors, g->m * sizeof *g->neighbors) ||
		  (g->weights && write_all(fd, g->weights, g->m * sizeof *g->weights));
	if (close(fd) || bad || rename(tmp, path)) {
		fprintf(stderr, "graph cache: cannot write %s (continuing without)\n", path);
		unlink(tmp);
	}
}

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

static int graph_build(wl_graph *g, wl_graph_kind kind, int scale, int degree, uint64_t seed,
		       int weighted);

int wl_graph_generate(wl_graph *g, wl_graph_kind kind, int scale, int degree, uint64_t seed,
		      int weighted)
{
	const char *dir = getenv("FARSIGHT_GRAPH_CACHE");
	if (!dir || !*dir)
		return graph_build(g, kind, scale, degree, seed, weighted);
	char path[4096];
	struct cache_header h = { .magic = "FSGRAPH1",
				  .kind = (uint32_t)kind,
				  .scale = (uint32_t)scale,
				  .degree = (uint32_t)degree,
				  .weighted = (uint32_t)weighted,
				  .seed = seed,
				  .n = (uint64_t)1 << scale };
	cache_path(path, sizeof path, dir, kind, scale, degree, seed, weighted);
	if (cache_load(g, path, &h) == 0)
		return 0;
	int rc = graph_build(g, kind, scale, degree, seed, weighted);
	if (rc == 0)
		cache_save(g, path, &h);
	return rc;
}

static int graph_build(wl_graph *g, wl_graph_kind kind, int scale, int degree, uint64_t seed,
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
