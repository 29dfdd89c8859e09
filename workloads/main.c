/*
 * main.c - farsight-workloads: one program, four workloads (the paper's MCF, XGBoost,
 * PageRank, SSSP).  `farsight workload NAME ...` execs this binary with its arguments;
 * it can also be run directly.
 *
 *   farsight-workloads NAME [--size tiny|small|full] [--seed N] [--graph kron|urand]
 *                           [--threads N] [--scale S]
 *   farsight-workloads --list | --help
 *
 * Exit status: 0 done, 1 the workload failed, 2 bad usage.
 */
#include "wl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
	const char *name;
	int (*fn)(const wl_args *);
	const char *help;
} workloads[] = {
	{ "mcf", wl_mcf, "min-cost flow by network simplex (LEMON) on a generated NETGEN-style instance" },
	{ "xgboost", wl_xgboost, "XGBoost (C API, hist) training on a generated HIGGS-like dataset" },
	{ "pagerank", wl_pagerank, "GAP-style pull PageRank, 20 iterations, Kronecker/urand CSR graph" },
	{ "sssp", wl_sssp, "GAP-style SSSP (Dijkstra, binary heap) on a weighted Kronecker/urand graph" },
};
#define N_WORKLOADS (sizeof(workloads) / sizeof(workloads[0]))

static void usage(FILE *f)
{
	fprintf(f,
		"usage: farsight workload NAME [--size tiny|small|full] [--seed N] [--graph kron|urand]\n"
		"                              [--threads N] [--scale S]\n"
		"       farsight workload --list\n\n"
		"Runs one of the paper's workloads on a generated, deterministic input and prints\n"
		"its result checksum as the last line (\"checksum: HEX\"); the same arguments give\n"
		"the same checksum on every run, under far memory or not.  Times and the\n"
		"footprint (peak RSS) go to stderr.\n\n"
		"  --size S     tiny (<1 s, tests), small (>=256 MiB, a few s; default), full (>=1 GiB)\n"
		"  --seed N     input generator seed (default 1)\n"
		"  --graph G    pagerank/sssp input: kron (Graph500 Kronecker, default) or urand\n"
		"  --threads N  xgboost nthread (default 1: the deterministic setting)\n"
		"  --scale S    pagerank/sssp: 2^S vertices, overriding --size\n\n"
		"workloads:\n");
	for (size_t i = 0; i < N_WORKLOADS; i++)
		fprintf(f, "  %-9s %s\n", workloads[i].name, workloads[i].help);
}

static int bad(const char *fmt, const char *arg)
{
	fputs("farsight workload: ", stderr);
	fprintf(stderr, fmt, arg);
	fputs("\n(see `farsight workload --help`)\n", stderr);
	return 2;
}

static int parse_long(const char *s, long long min, long long max, long long *out)
{
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

int main(int argc, char **argv)
{
	wl_args a = { .size = WL_SMALL, .seed = 1, .graph = WL_KRON, .threads = 1 };
	int which = -1;
	long long v;

	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	for (int i = 1; i < argc; i++) {
		const char *o = argv[i];
		const char *val = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(o, "--help") || !strcmp(o, "-h")) {
			usage(stdout);
			return 0;
		} else if (!strcmp(o, "--list")) {
			for (size_t k = 0; k < N_WORKLOADS; k++)
				printf("%-9s %s\n", workloads[k].name, workloads[k].help);
			return 0;
		} else if (o[0] == '-' && !val) {
			return bad("option %s needs a value", o);
		} else if (!strcmp(o, "--size")) {
			if (!strcmp(val, "tiny"))
				a.size = WL_TINY;
			else if (!strcmp(val, "small"))
				a.size = WL_SMALL;
			else if (!strcmp(val, "full"))
				a.size = WL_FULL;
			else
				return bad("unknown size '%s': use tiny, small or full", val);
			i++;
		} else if (!strcmp(o, "--seed")) {
			if (parse_long(val, 0, (1ll << 62), &v))
				return bad("--seed wants a non-negative integer, not '%s'", val);
			a.seed = (uint64_t)v;
			i++;
		} else if (!strcmp(o, "--graph")) {
			if (!strcmp(val, "kron"))
				a.graph = WL_KRON;
			else if (!strcmp(val, "urand"))
				a.graph = WL_URAND;
			else
				return bad("unknown graph '%s': use kron or urand", val);
			i++;
		} else if (!strcmp(o, "--threads")) {
			if (parse_long(val, 1, 256, &v))
				return bad("--threads wants an integer from 1 to 256, not '%s'", val);
			a.threads = (int)v;
			i++;
		} else if (!strcmp(o, "--scale")) {
			if (parse_long(val, 4, 27, &v))
				return bad("--scale wants an integer from 4 to 27, not '%s'", val);
			a.scale = (int)v;
			i++;
		} else if (o[0] == '-') {
			return bad("unknown option '%s'", o);
		} else if (which >= 0) {
			return bad("one workload at a time (extra argument '%s')", o);
		} else {
			for (size_t k = 0; k < N_WORKLOADS; k++)
				if (!strcmp(o, workloads[k].name))
					which = (int)k;
			if (which < 0)
				return bad("unknown workload '%s': use mcf, xgboost, pagerank or sssp", o);
		}
	}
	if (which < 0)
		return bad("%s", "which workload? (mcf, xgboost, pagerank or sssp)");
	a.name = workloads[which].name;
	return workloads[which].fn(&a) ? 1 : 0;
}
