/*
 * bench_plan.c - what a bench runs: the workloads, ratios and prefetchers asked for
 * (or the defaults, or --quick's), checked, and the runs in the order bench_run_all
 * goes through them.  For each workload: its plain runs, its all-local runs under
 * farsight (the footprint every budget is a share of), the kernel baseline's
 * all-local run, then per ratio the oracle's recording and every prefetcher's
 * repetitions.  Also finds the binaries the runs call, so a missing one is a usage
 * error before anything runs.
 */
#include "bench/bench.h"
#include "cli/cli.h"
#include "prefetch/policy.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Split a comma-separated list in place.  "\," is a comma inside an item (a setting's
 * value that has one: readahead+backend=redis://a:6379\,b:6379). */
static int split_list(char *s, const char **out, int max, const char *what)
{
	int n = 0;
	char *w = s;
	for (char *r = s, *item = s;; r++) {
		if (*r == '\\' && r[1] == ',') {
			*w++ = *++r;
			continue;
		}
		if (*r != ',' && *r) {
			*w++ = *r;
			continue;
		}
		int end = !*r;
		*w = 0;
		if (*item) {
			if (n == max) {
				fs_cli_usage_error("bench: too many %s (at most %d)", what, max);
				return -1;
			}
			out[n++] = item;
		}
		if (end)
			break;
		item = w = w + 1;
	}
	if (n == 0)
		fs_cli_usage_error("bench: empty list of %s", what);
	return n ? n : -1;
}

static const char *known_workloads[] = { "mcf", "xgboost", "pagerank", "sssp" };

static int is_known_workload(const char *w)
{
	for (int i = 0; i < 4; i++)
		if (!strcmp(w, known_workloads[i]))
			return 1;
	return 0;
}

static void add_run(bench_plan *p, int kind, const char *w, int ratio, const char *pf, int rep)
{
	bench_run *r = &p->runs[p->n_runs++];
	memset(r, 0, sizeof *r);
	r->kind = kind;
	r->workload = w;
	r->ratio = ratio;
	r->prefetch = pf;
	r->rep = rep;
}

/* The lists, parsed in place (the strings are the caller's, and outlive the plan). */
static int make_lists(bench_plan *p, const bench_opts *o)
{
	static char wl_default[] = "mcf,xgboost,pagerank,sssp";
	static char ratio_default[] = "30,50,80,90", ratio_quick[] = "30,50";
	if ((p->n_workloads = split_list(o->workloads && !o->quick ? o->workloads : wl_default, p->workloads, 8,
					 "workloads")) < 0)
		return 2;
	for (int i = 0; i < p->n_workloads; i++)
		if (!is_known_workload(p->workloads[i]))
			return fs_cli_usage_error("bench: unknown workload '%s' (mcf, xgboost, pagerank, sssp)",
						  p->workloads[i]);
	const char *ratio_txt[16];
	if ((p->n_ratios = split_list(o->quick ? ratio_quick : o->ratios ? o->ratios : ratio_default,
				      ratio_txt, 16, "ratios")) < 0)
		return 2;
	for (int i = 0; i < p->n_ratios; i++) {
		char *end;
		long r = strtol(ratio_txt[i], &end, 10);
		if (*end || r < 1 || r > 100)
			return fs_cli_usage_error("bench: a ratio is a percent from 1 to 100, not '%s'",
						  ratio_txt[i]);
		p->ratios[i] = (int)r;
	}
	/* prefetchers: every registered one by default (farsight only with models) */
	char why[300];
	if (o->prefetch && !o->quick) {
		if ((p->n_prefetch = split_list(o->prefetch, p->prefetch, 16, "prefetchers")) < 0)
			return 2;
		for (int i = 0; i < p->n_prefetch; i++)
			if (bench_linux_swap_cluster(p->prefetch[i]) < 0 &&
			    bench_variant_check(p->prefetch[i], why, sizeof why)) {
				if (strchr(p->prefetch[i], '+'))
					return fs_cli_usage_error("bench: %s", why);
				char list[256] = "";
				for (const char *const *n = fs_policy_names(); *n; n++)
					snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s",
						 *list ? ", " : "", *n);
				return fs_cli_usage_error("bench: unknown prefetcher '%s'; choose from: %s, "
							  "or the kernel baselines linux-swap, linux-swap-ra0, "
							  "linux-swap-zram",
							  p->prefetch[i], list);
			}
	} else {
		for (const char *const *n = fs_policy_names(); *n && p->n_prefetch < 16; n++)
			if (strcmp(*n, "farsight") || p->models)
				p->prefetch[p->n_prefetch++] = *n;
	}
	/* --quick runs the tiny inputs: at size small a single far-memory run at 30%
	 * (pagerank, readahead) took over 6 minutes here, so small cannot fit the quick
	 * matrix in 15 minutes (docs/BENCH.md).  --size overrides. */
	if (o->quick && !o->reps_given)
		p->reps = 1;
	if (o->quick && !o->size_given)
		p->size = "tiny";
	return 0;
}

/* The binaries: farsight-workloads is called directly rather than through `farsight
 * workload` (which execs it): under `farsight run` each exec'd image starts its own
 * runtime, and the oracle checks that the trace it replays was recorded from the same
 * command line, which the intermediate `farsight workload` process is not. */
static int find_binaries(bench_plan *p, int has_swap)
{
	snprintf(p->bin, sizeof p->bin, "%s/farsight", fs_cli_bindir());
	snprintf(p->wl_bin, sizeof p->wl_bin, "%s/farsight-workloads", fs_cli_bindir());
	if (access(p->wl_bin, X_OK) != 0)
		return fs_cli_usage_error("bench: cannot run %s (%s); build it with `make workloads`", p->wl_bin,
					  strerror(errno));
	/* The kernel baseline's script: next to the binaries' folder, or the env override. */
	if (has_swap) {
		const char *env = getenv("FARSIGHT_LINUX_SWAP_SCRIPT");
		if (env && *env)
			snprintf(p->swap_script_buf, sizeof p->swap_script_buf, "%s", env);
		else
			snprintf(p->swap_script_buf, sizeof p->swap_script_buf, "%s/../tools/linux-swap-run.sh",
				 fs_cli_bindir());
		if (access(p->swap_script_buf, X_OK) != 0)
			return fs_cli_usage_error("bench: linux-swap needs the script %s, which cannot be run (%s); "
						  "set FARSIGHT_LINUX_SWAP_SCRIPT to tools/linux-swap-run.sh",
						  p->swap_script_buf, strerror(errno));
		p->swap_script = p->swap_script_buf;
	}
	return 0;
}

int bench_plan_make(bench_plan *p, const bench_opts *o)
{
	int rc = make_lists(p, o);
	if (rc)
		return rc;
	int has_oracle = 0, has_swap = 0;
	for (int i = 0; i < p->n_prefetch; i++) {
		has_oracle |= bench_policy_is(p->prefetch[i], "oracle");
		has_swap |= bench_linux_swap_cluster(p->prefetch[i]) >= 0;
	}
	int per_wl = 2 * p->reps + has_swap + p->n_ratios * (p->n_prefetch * p->reps + has_oracle);
	p->runs = calloc((size_t)per_wl * p->n_workloads, sizeof *p->runs);
	if (!p->runs)
		return fs_cli_usage_error("bench: out of memory for the plan");
	for (int w = 0; w < p->n_workloads; w++) {
		for (int r = 0; r < p->reps; r++)
			add_run(p, RUN_PLAIN, p->workloads[w], 0, "", r + 1);
		for (int r = 0; r < p->reps; r++)
			add_run(p, RUN_HUGE, p->workloads[w], 0, "none", r + 1);
		if (has_swap) /* the kernel baseline's all-local run: its overhead */
			add_run(p, RUN_HUGE, p->workloads[w], 0, "linux-swap", 1);
		for (int k = 0; k < p->n_ratios; k++) {
			if (has_oracle)
				add_run(p, RUN_RECORD, p->workloads[w], p->ratios[k], "none", 1);
			for (int f = 0; f < p->n_prefetch; f++)
				for (int r = 0; r < p->reps; r++)
					add_run(p, RUN_FAR, p->workloads[w], p->ratios[k], p->prefetch[f], r + 1);
		}
	}
	snprintf(p->logs, sizeof p->logs, "%s/logs", p->out_dir);
	return find_binaries(p, has_swap);
}
