/*
 * pagerank.c - the `pagerank` workload: GAP-style pull PageRank over a Kronecker or
 * uniform-random CSR graph.
 *
 * Pull direction as in GAP: each vertex sums its in-neighbours' contributions
 * (rank / out-degree), so the contribution array is read at random through the
 * neighbour lists while the lists themselves stream: the access pattern that makes
 * graph kernels hard for sequential readahead.  A fixed number of iterations keeps the
 * work identical from run to run.  Checksum: ranks in fixed point (rank x n x 1e9,
 * rounded), FNV-1a.
 */
#include "graph.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#define PR_DAMPING 0.85
#define PR_ITERS 20
#define PR_DEGREE 16

int wl_pagerank_run(const wl_graph *g, double d, int max_iters, double tol, double *scores)
{
	uint32_t n = g->n;
	double *contrib = wl_alloc((size_t)n * sizeof *contrib, "the PageRank contributions");
	int it;

	for (uint32_t v = 0; v < n; v++)
		scores[v] = 1.0 / n;
	for (it = 0; it < max_iters; it++) {
		double dangling = 0;
		for (uint32_t u = 0; u < n; u++) {
			uint64_t deg = g->offsets[u + 1] - g->offsets[u];
			if (deg)
				contrib[u] = scores[u] / deg;
			else {
				contrib[u] = 0;
				dangling += scores[u];
			}
		}
		/* Dangling vertices' rank is spread over all vertices, so ranks keep
		 * summing to 1 (igraph's and networkx's definition). */
		double base = (1.0 - d) / n + d * dangling / n, change = 0;
		for (uint32_t v = 0; v < n; v++) {
			double sum = 0;
			for (uint64_t i = g->offsets[v]; i < g->offsets[v + 1]; i++)
				sum += contrib[g->neighbors[i]];
			double s = base + d * sum;
			change += fabs(s - scores[v]);
			scores[v] = s;
		}
		if (tol > 0 && change < tol) {
			it++;
			break;
		}
	}
	free(contrib);
	return it;
}

int wl_pagerank(const wl_args *a)
{
	int scale = wl_graph_scale(a, 20, 22);
	wl_graph g;
	double t0 = wl_now();
	wl_graph_generate(&g, a->graph, scale, PR_DEGREE, a->seed, 0);
	double t1 = wl_now();
	double *scores = wl_alloc((size_t)g.n * sizeof *scores, "the PageRank scores");
	int iters = wl_pagerank_run(&g, PR_DAMPING, PR_ITERS, 0, scores);
	double t2 = wl_now();

	uint64_t h = WL_FNV_SEED;
	double sum = 0, top = 0;
	uint32_t top_v = 0;
	for (uint32_t v = 0; v < g.n; v++) {
		h = wl_fnv_u64(h, (uint64_t)llround(scores[v] * g.n * 1e9));
		sum += scores[v];
		if (scores[v] > top) {
			top = scores[v];
			top_v = v;
		}
	}
	printf("pagerank: %s graph, scale %d, %u vertices, %llu adjacency entries, %d iterations\n",
	       a->graph == WL_KRON ? "kron" : "urand", scale, g.n, (unsigned long long)g.m, iters);
	printf("rank sum %.9f, top vertex %u rank %.6e\n", sum, top_v, top);
	free(scores);
	wl_graph_free(&g);
	wl_report(a, t1 - t0, t2 - t1, h);
	return 0;
}
