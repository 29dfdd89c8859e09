/*
 * test_workloads_igraph.c - the pagerank and sssp workloads' kernels give the same
 * answers as igraph's reference implementations (PRPACK PageRank, Dijkstra) on the
 * workloads' own generated graphs (Kronecker and uniform random, scale 10).
 *
 * Links the workloads' graph code directly (workloads/workloads.mk), so it checks the
 * exact kernels farsight-workloads runs, not a copy.
 */
#include "testlib.h"
#include "graph.h"

#include <igraph/igraph.h>

/* The CSR graph as an igraph graph: each undirected edge once (the entry u<v of the
 * two), parallel edges kept, weights in the same order. */
static void to_igraph(const wl_graph *g, igraph_t *ig, igraph_vector_t *w)
{
	igraph_vector_int_t edges;
	igraph_vector_int_init(&edges, 0);
	igraph_vector_init(w, 0);
	for (uint32_t u = 0; u < g->n; u++)
		for (uint64_t i = g->offsets[u]; i < g->offsets[u + 1]; i++)
			if (u < g->neighbors[i]) {
				igraph_vector_int_push_back(&edges, u);
				igraph_vector_int_push_back(&edges, g->neighbors[i]);
				if (g->weights)
					igraph_vector_push_back(w, g->weights[i]);
			}
	igraph_create(ig, &edges, g->n, IGRAPH_UNDIRECTED);
	igraph_vector_int_destroy(&edges);
}

static void check_pagerank(wl_graph_kind kind)
{
	wl_graph g;
	wl_graph_generate(&g, kind, 10, 16, 7, 0);
	double *mine = malloc(g.n * sizeof *mine);
	int iters = wl_pagerank_run(&g, 0.85, 1000, 1e-13, mine);
	CHECK(iters < 1000);

	igraph_t ig;
	igraph_vector_t w, ref;
	igraph_real_t value;
	to_igraph(&g, &ig, &w);
	CHECK_EQ_U64(igraph_ecount(&ig) * 2, g.m);
	igraph_vector_init(&ref, 0);
	CHECK(igraph_pagerank(&ig, IGRAPH_PAGERANK_ALGO_PRPACK, &ref, &value, igraph_vss_all(), 0,
			      0.85, NULL, NULL) == IGRAPH_SUCCESS);
	double worst = 0, sum = 0;
	for (uint32_t v = 0; v < g.n; v++) {
		double rel = fabs(mine[v] - VECTOR(ref)[v]) / VECTOR(ref)[v];
		if (rel > worst)
			worst = rel;
		sum += mine[v];
	}
	CHECK_NEAR(sum, 1.0, 1e-9);
	CHECK(worst < 1e-6);
	if (worst >= 1e-6)
		fprintf(stderr, "  pagerank: worst relative difference to igraph %g\n", worst);
	igraph_vector_destroy(&ref);
	igraph_vector_destroy(&w);
	igraph_destroy(&ig);
	free(mine);
	wl_graph_free(&g);
}

static void check_sssp(wl_graph_kind kind)
{
	wl_graph g;
	wl_graph_generate(&g, kind, 10, 16, 7, 1);
	uint32_t *dist = malloc(g.n * sizeof *dist);
	igraph_t ig;
	igraph_vector_t w;
	to_igraph(&g, &ig, &w);
	for (int k = 0; k < 3; k++) {
		uint32_t s = wl_sssp_pick_source(&g, 7, k);
		wl_sssp_run(&g, s, dist);
		igraph_matrix_t ref;
		igraph_matrix_init(&ref, 0, 0);
		CHECK(igraph_distances_dijkstra(&ig, &ref, igraph_vss_1(s), igraph_vss_all(), &w,
						IGRAPH_ALL) == IGRAPH_SUCCESS);
		uint32_t mismatches = 0, reached = 0;
		for (uint32_t v = 0; v < g.n; v++) {
			double r = MATRIX(ref, 0, v);
			if (dist[v] == WL_DIST_INF)
				mismatches += isfinite(r);
			else {
				mismatches += r != (double)dist[v];
				reached++;
			}
		}
		CHECK_EQ_U64(mismatches, 0);
		CHECK(reached > 1); /* a real traversal, not just the source */
		igraph_matrix_destroy(&ref);
	}
	igraph_vector_destroy(&w);
	igraph_destroy(&ig);
	free(dist);
	wl_graph_free(&g);
}

TEST(pagerank_matches_igraph_kron) { check_pagerank(WL_KRON); }
TEST(pagerank_matches_igraph_urand) { check_pagerank(WL_URAND); }
TEST(sssp_matches_igraph_kron) { check_sssp(WL_KRON); }
TEST(sssp_matches_igraph_urand) { check_sssp(WL_URAND); }

int main(void)
{
	RUN(pagerank_matches_igraph_kron);
	RUN(pagerank_matches_igraph_urand);
	RUN(sssp_matches_igraph_kron);
	RUN(sssp_matches_igraph_urand);
	return TEST_EXIT();
}
