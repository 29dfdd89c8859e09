/*
 * graph.h - CSR graphs for the GAP-style kernels (pagerank, sssp).
 *
 * Generators follow the GAP benchmark suite: Kronecker (Graph500 parameters A=0.57,
 * B=0.19, C=0.19, then a random permutation of vertex ids so that degree does not
 * follow id order) or uniform random, n = 2^scale vertices, degree*n undirected edges,
 * weights uniform in [1,255] (GAP's weighted generator).  The graph is stored
 * undirected: each edge appears in both endpoints' lists.  Self-loops are dropped;
 * parallel edges are kept (GAP removes them; keeping them saves a sort per vertex and
 * changes nothing about the access pattern).  Everything derives from the seed.
 */
#ifndef WL_GRAPH_H
#define WL_GRAPH_H

#include "wl.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct wl_graph {
	uint32_t n;          /* vertices */
	uint64_t m;          /* directed adjacency entries (2 x undirected edges kept) */
	uint64_t *offsets;   /* n+1 */
	uint32_t *neighbors; /* m */
	uint32_t *weights;   /* m, or NULL for an unweighted graph */
} wl_graph;

int wl_graph_generate(wl_graph *g, wl_graph_kind kind, int scale, int degree, uint64_t seed,
		      int weighted);
void wl_graph_free(wl_graph *g);
/* Graph scale for a workload size (tiny/small/full); see docs/WORKLOADS.md. */
int wl_graph_scale(const wl_args *a, int small_scale, int full_scale);

/* PageRank, pull direction, damping d, the rank of dangling vertices spread evenly
 * (the textbook definition igraph and networkx use).  Runs max_iters iterations, or
 * stops early when the L1 change drops below tol (tol = 0: always max_iters).
 * scores[n] receives ranks summing to 1.  Returns the iterations run. */
int wl_pagerank_run(const wl_graph *g, double d, int max_iters, double tol, double *scores);

/* Single-source shortest paths: Dijkstra with a binary heap (GAP's reference
 * implementation; its delta-stepping is the parallel version of the same result).
 * dist[n] receives distances, WL_DIST_INF where unreachable. */
#define WL_DIST_INF UINT32_MAX
int wl_sssp_run(const wl_graph *g, uint32_t source, uint32_t *dist);
/* A deterministic source vertex with at least one edge. */
uint32_t wl_sssp_pick_source(const wl_graph *g, uint64_t seed, int k);

#ifdef __cplusplus
}
#endif
#endif
