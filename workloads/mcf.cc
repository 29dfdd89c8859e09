/*
 * mcf.cc - the `mcf` workload: minimum-cost flow by the network simplex method, the
 * algorithm of SPEC CPU's 429.mcf/505.mcf, solved by a real library: LEMON's
 * NetworkSimplex (block-search pivoting, LEMON's default) over a SmartDigraph.
 *
 * The instance comes from a NETGEN-style generator written here.  GLPK's glp_netgen
 * (Klingman's NETGEN) and glp_gridgen are compiled out of Debian's GLPK 5.0 ("this
 * routine is temporarily disabled due to licensing problems": calling them aborts), so
 * we generate the same kind of instance NETGEN does, from --seed:
 *   - nodes 0..S-1 are sources, the last T nodes sinks, the rest transshipment nodes;
 *     the total supply is split at random over the sources, the demand over the sinks;
 *   - a skeleton makes the instance feasible, as NETGEN's does: the transshipment nodes
 *     are dealt into one chain per source, each chain ends in arcs to random sinks, and
 *     the sinks are joined in a ring; skeleton arcs are uncapacitated and a share of
 *     them (NETGEN's iphic) carry the maximum cost;
 *   - the other arcs join random nodes with costs uniform in [1, 10000]; half of them
 *     (NETGEN's ipcap) are capacitated, uniform in [100, 5000].
 * The generator's arrays are handed to LEMON and freed before solving, so the solve
 * phase works on LEMON's arrays (costs, capacities, flows, potentials, spanning-tree
 * threads), which it walks in the data-dependent order the pivots dictate.
 * Checksum: total cost, then every arc's flow in arc order, FNV-1a.
 * C++ because LEMON is a header-only C++ template library.
 */
#include "wl.h"

#include <lemon/network_simplex.h>
#include <lemon/smart_graph.h>

#include <algorithm>
#include <cstdio>
#include <vector>

namespace {

struct mcf_size {
	int nodes, arcs;
};

/* Instance sizes (nodes, arcs), chosen by measurement on the project machine so that
 * small touches >= 256 MiB and full >= 1 GiB (docs/WORKLOADS.md has the numbers). */
mcf_size size_of(wl_size s)
{
	switch (s) {
	case WL_TINY:
		return { 1500, 12000 };
	case WL_SMALL:
		return { 40000, 3500000 };
	default:
		return { 100000, 14000000 };
	}
}

struct instance {
	int nodes = 0;
	std::vector<long long> supply;    /* per node: >0 supply, <0 demand */
	std::vector<int> tail, head;      /* per arc */
	std::vector<long long> cap, cost; /* per arc */
	void arc(int u, int v, long long c, long long w)
	{
		tail.push_back(u);
		head.push_back(v);
		cap.push_back(c);
		cost.push_back(w);
	}
};

const long long MAX_COST = 10000, MIN_CAP = 100, MAX_CAP = 5000;
const uint64_t SKELETON_MAX_COST_PCT = 30, CAPACITATED_PCT = 50;

/* Split `total` into random non-negative shares that sum to it exactly. */
void split(wl_rng *r, long long total, std::vector<long long> &out)
{
	size_t parts = out.size();
	std::vector<long long> cut(parts - 1);
	for (auto &c : cut)
		c = (long long)wl_rng_below(r, (uint64_t)total + 1);
	std::sort(cut.begin(), cut.end());
	long long prev = 0;
	for (size_t i = 0; i < parts; i++) {
		long long next = i + 1 < parts ? cut[i] : total;
		out[i] = next - prev;
		prev = next;
	}
}

void generate(instance &in, const mcf_size &sz, uint64_t seed)
{
	wl_rng r;
	wl_rng_seed(&r, seed, 1);
	int n = sz.nodes, S = n / 20, T = n / 20, first_sink = n - T;
	long long total = (long long)n * 50, uncap = total;
	in.nodes = n;
	in.supply.assign(n, 0);
	std::vector<long long> share(S);
	split(&r, total, share);
	for (int i = 0; i < S; i++)
		in.supply[i] = share[i];
	share.assign(T, 0);
	split(&r, total, share);
	for (int i = 0; i < T; i++)
		in.supply[first_sink + i] = -share[i];
	in.tail.reserve(sz.arcs);
	in.head.reserve(sz.arcs);
	in.cap.reserve(sz.arcs);
	in.cost.reserve(sz.arcs);

	auto skeleton_cost = [&]() {
		return wl_rng_below(&r, 100) < SKELETON_MAX_COST_PCT
			       ? MAX_COST
			       : 1 + (long long)wl_rng_below(&r, MAX_COST);
	};
	/* Skeleton: transshipment nodes, shuffled, dealt into one chain per source. */
	std::vector<int> trans;
	for (int v = S; v < first_sink; v++)
		trans.push_back(v);
	for (size_t i = trans.size(); i > 1; i--)
		std::swap(trans[i - 1], trans[wl_rng_below(&r, i)]);
	std::vector<int> last(S);
	for (int s = 0; s < S; s++)
		last[s] = s;
	for (size_t i = 0; i < trans.size(); i++) {
		int s = (int)(i % S);
		in.arc(last[s], trans[i], uncap, skeleton_cost());
		last[s] = trans[i];
	}
	for (int s = 0; s < S; s++)
		for (int k = 0; k < 3; k++)
			in.arc(last[s], first_sink + (int)wl_rng_below(&r, T), uncap, skeleton_cost());
	for (int t = 0; t < T; t++) /* the sink ring: any sink can pass flow to any other */
		in.arc(first_sink + t, first_sink + (t + 1) % T, uncap, MAX_COST);
	/* Random arcs (tails: sources and transshipment; heads: transshipment and sinks)
	 * up to the requested count. */
	while ((int)in.tail.size() < sz.arcs) {
		int u = (int)wl_rng_below(&r, first_sink), v = S + (int)wl_rng_below(&r, n - S);
		if (u == v)
			continue;
		long long c = wl_rng_below(&r, 100) < CAPACITATED_PCT
				      ? MIN_CAP + (long long)wl_rng_below(&r, MAX_CAP - MIN_CAP + 1)
				      : uncap;
		in.arc(u, v, c, 1 + (long long)wl_rng_below(&r, MAX_COST));
	}
}

} // namespace

extern "C" int wl_mcf(const wl_args *a)
{
	using Graph = lemon::SmartDigraph;
	using Solver = lemon::NetworkSimplex<Graph, long long, long long>;
	mcf_size sz = size_of(a->size);
	double t0 = wl_now();

	Graph g;
	Graph::NodeMap<long long> supply(g);
	Graph::ArcMap<long long> cap(g), cost(g);
	{
		instance in;
		generate(in, sz, a->seed);
		g.reserveNode(in.nodes);
		g.reserveArc((int)in.tail.size());
		for (int i = 0; i < in.nodes; i++)
			supply[g.addNode()] = in.supply[i];
		for (size_t e = 0; e < in.tail.size(); e++) {
			Graph::Arc arc = g.addArc(g.nodeFromId(in.tail[e]), g.nodeFromId(in.head[e]));
			cap[arc] = in.cap[e];
			cost[arc] = in.cost[e];
		}
	} /* the generator's arrays are freed here, before solving */
	double t1 = wl_now();

	Solver ns(g);
	ns.upperMap(cap).costMap(cost).supplyMap(supply);
	Solver::ProblemType result = ns.run();
	double t2 = wl_now();
	if (result != Solver::OPTIMAL) {
		fprintf(stderr, "farsight-workloads: mcf: the generated instance is %s (a generator bug)\n",
			result == Solver::INFEASIBLE ? "infeasible" : "unbounded");
		return 1;
	}

	long long total = ns.totalCost();
	uint64_t h = wl_fnv_u64(WL_FNV_SEED, (uint64_t)total);
	long long moved = 0;
	for (int id = 0; id < g.arcNum(); id++) {
		long long f = ns.flow(g.arcFromId(id));
		h = wl_fnv_u64(h, (uint64_t)f);
		moved += f;
	}
	printf("mcf: NETGEN-style instance, %d nodes, %d arcs\n", g.nodeNum(), g.arcNum());
	printf("total cost %lld, total arc flow %lld\n", total, moved);
	wl_report(a, t1 - t0, t2 - t1, h);
	return 0;
}
