/*
 * cmd_bench.c - `farsight bench`: the paper's experiment matrix, workloads x local-memory
 * ratios x prefetchers, each configuration repeated, with all-local baselines.
 *
 * For each workload, in this order:
 *   1. plain runs: `farsight-workloads W ...` without farsight: the all-local time (the
 *      1.0 of normalised performance) and the reference checksum;
 *   2. huge-budget runs under `farsight run --local-mem 16G --prefetch none`: the
 *      runtime's own overhead, and the footprint = local_mem_peak_bytes of its stats
 *      JSON (the bytes of far-memory pages the workload touched);
 *   3. for each ratio: budget = ratio x footprint (whole pages); for each prefetcher,
 *      --reps runs of `farsight run --local-mem BUDGET --prefetch P --stats-json F --
 *      farsight-workloads W ...` (the program `farsight workload` execs; see below).  The oracle first gets a trace recorded at the same
 *      budget with --prefetch none (the run it replays).
 *   4. the kernel baseline, when --prefetch names linux-swap (linux-swap-ra0, or
 *      linux-swap-zram: compressed RAM as the swap device): one
 *      all-local run of the plain workload under tools/linux-swap-run.sh with a 16G
 *      limit (the memory the cgroup charges it beyond the footprint: stack, libraries'
 *      data, small allocations, page cache), then per ratio runs with a cgroup v1
 *      memory limit of the same budget plus that overhead, a swapfile (zram) and
 *      vm.page-cluster 3 (0); its farsight-named stats JSON is read like the others'.
 *      Where the script cannot run (exit 3: no root, no cgroup v1) it is skipped, with
 *      a note in the report.
 * Every run's checksum is compared with the plain one; a mismatch, a crash or a timeout
 * is a failure in the report and makes the exit status 1.  Runs are sequential (the
 * machine has 2 vCPUs) and by default pinned to one CPU together with the pager thread
 * (--cpu), because a wake-up across vCPUs costs 40-50 us here (docs/BENCH.md).
 *
 * This file parses the command line (and runs --merge, which runs nothing); the plan
 * is made in bench_plan.c, run in bench_run.c (children by bench_exec.c) and reported
 * by bench_report.c (bench.h).
 */
#include "bench/bench.h"
#include "cli/cli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void usage(FILE *f)
{
	fprintf(f,
		"usage: farsight bench [--workloads LIST] [--ratios LIST] [--prefetch LIST] [--reps N]\n"
		"                      [--size tiny|small|full] [--seed N] [--graph kron|urand]\n"
		"                      [--backend B] [--cpu N] [--timeout SEC] [--models DIR]\n"
		"                      [--quick] [--dry-run] --out DIR\n"
		"       farsight bench --merge DIR,DIR... --out DIR\n\n"
		"Runs each workload all-local (plain, and under farsight with a huge budget, which\n"
		"measures its far-memory footprint), then under far memory at each local-memory\n"
		"ratio (percent of the footprint) with each prefetcher, --reps times; checks every\n"
		"checksum against the all-local one; writes DIR/results.csv (one row per run),\n"
		"DIR/report.md (median normalised performance, prefetch hits, accuracy, coverage)\n"
		"and DIR/<workload>.png (normalised performance vs ratio, one line per prefetcher).\n\n"
		"  --workloads LIST  comma-separated (default mcf,xgboost,pagerank,sssp)\n"
		"  --ratios LIST     local memory, percent of footprint (default 30,50,80,90)\n"
		"  --prefetch LIST   prefetchers (default: every one the runtime has; farsight only\n"
		"                    with --models); linux-swap (linux-swap-ra0: page-cluster 0;\n"
		"                    linux-swap-zram: zram, lz4)\n"
		"                    adds the kernel baseline, tools/linux-swap-run.sh (needs root\n"
		"                    and cgroup v1; skipped otherwise).  POLICY+SETTING=VALUE\n"
		"                    runs a policy with settings of farsight run, e.g.\n"
		"                    farsight+prefetch_map=fault beside farsight\n"
		"  --reps N          repetitions per configuration (default 3); medians reported\n"
		"  --size S          workload size (default small)\n"
		"  --seed N, --graph G   passed to the workloads (defaults 1, kron)\n"
		"  --backend B       passed to farsight run (default: its default, mem)\n"
		"  --cpu N           pin every run and the pager thread to CPU N (default 0;\n"
		"                    -1: no pinning)\n"
		"  --timeout SEC     kill a run after SEC seconds (default 40 x the plain time,\n"
		"                    at least 300)\n"
		"  --models DIR      model files for the farsight prefetcher: DIR/<workload>.*,\n"
		"                    or one model file for every workload\n"
		"  --quick           all four workloads, ratios 30,50, every prefetcher, 1 rep,\n"
		"                    size tiny unless --size is given (a few minutes)\n"
		"  --dry-run         print the commands, run nothing\n"
		"  --merge LIST      run nothing: read the results.csv of each bench folder\n"
		"                    listed (e.g. one bench per vCPU, or more repetitions run\n"
		"                    later) and write one results.csv, report.md and plots\n"
		"                    into --out, repetitions numbered on across them\n");
}

/* --merge: the runs of several benches' results.csv as one bench's report. */
static int merge(char *list, const char *out_dir, const char *cmdline)
{
	bench_plan p = { .out_dir = out_dir, .command_line = cmdline, .cpu = -1 };
	int cap = 0, rc = 0;
	char err[600], path[4096], from[2048] = "";
	for (char *d = strtok(list, ","); d; d = strtok(NULL, ",")) {
		snprintf(path, sizeof path, "%s/results.csv", d);
		if (bench_read_csv(&p, &cap, path, err, sizeof err)) {
			fprintf(stderr, "farsight bench: --merge: %s\n", err);
			rc = 1;
			goto out;
		}
		if (strlen(from) + strlen(path) + 5 < sizeof from) { /* for the report */
			strcat(from, *from ? ", `" : "`");
			strcat(from, path);
			strcat(from, "`");
		}
	}
	if (!p.n_runs) {
		fprintf(stderr, "farsight bench: --merge: no runs in %s\n", from);
		rc = 1;
		goto out;
	}
	p.merged_from = from;
	if (bench_mkdir_p(out_dir) && errno != EEXIST) {
		fprintf(stderr, "farsight bench: cannot create %s: %s\n", out_dir, strerror(errno));
		rc = 1;
		goto out;
	}
	if (bench_write_csv(&p) || bench_write_report(&p) < 0) {
		rc = 1;
		goto out;
	}
	fprintf(stderr, "farsight bench: merged %d runs (%d workloads, %d prefetchers, up to %d "
			"repetition%s) into %s/results.csv and %s/report.md\n",
		p.n_runs, p.n_workloads, p.n_prefetch, p.reps, p.reps == 1 ? "" : "s", out_dir, out_dir);
out:
	bench_merged_free(&p);
	return rc;
}

/* The command line into o and p's scalars.  0, 2 after a usage error, or -1 after
 * --help. */
static int parse(int argc, char **argv, bench_opts *o, bench_plan *p)
{
	for (int i = 1; i < argc; i++) {
		const char *opt = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(opt, "--help") || !strcmp(opt, "-h")) {
			usage(stdout);
			return -1;
		}
		if (!strcmp(opt, "--quick")) {
			o->quick = 1;
			continue;
		}
		if (!strcmp(opt, "--dry-run")) {
			p->dry = 1;
			continue;
		}
		if (!v)
			return fs_cli_usage_error("bench: %s needs a value (see farsight bench --help)", opt);
		i++;
		if (!strcmp(opt, "--workloads"))
			o->workloads = argv[i];
		else if (!strcmp(opt, "--ratios"))
			o->ratios = argv[i];
		else if (!strcmp(opt, "--prefetch"))
			o->prefetch = argv[i];
		else if (!strcmp(opt, "--reps")) {
			p->reps = atoi(v);
			o->reps_given = 1;
			if (p->reps < 1 || p->reps > 100)
				return fs_cli_usage_error("bench: --reps wants 1..100, not '%s'", v);
		} else if (!strcmp(opt, "--size")) {
			if (strcmp(v, "tiny") && strcmp(v, "small") && strcmp(v, "full"))
				return fs_cli_usage_error("bench: --size is tiny, small or full, not '%s'", v);
			p->size = v;
			o->size_given = 1;
		} else if (!strcmp(opt, "--seed"))
			p->seed = v;
		else if (!strcmp(opt, "--graph"))
			p->graph = v;
		else if (!strcmp(opt, "--backend"))
			p->backend = v;
		else if (!strcmp(opt, "--cpu")) {
			char *end;
			long c = strtol(v, &end, 10);
			if (*end || c < -1 || c >= sysconf(_SC_NPROCESSORS_ONLN))
				return fs_cli_usage_error("bench: --cpu wants -1 or a CPU number below %ld, not '%s'",
							  sysconf(_SC_NPROCESSORS_ONLN), v);
			p->cpu = (int)c;
		} else if (!strcmp(opt, "--timeout")) {
			p->timeout = atof(v);
			if (p->timeout <= 0)
				return fs_cli_usage_error("bench: --timeout wants seconds > 0, not '%s'", v);
		} else if (!strcmp(opt, "--models"))
			p->models = v;
		else if (!strcmp(opt, "--out"))
			p->out_dir = v;
		else if (!strcmp(opt, "--merge"))
			o->merge = argv[i];
		else
			return fs_cli_usage_error("bench: unknown option '%s' (see farsight bench --help)", opt);
	}
	if (!p->out_dir)
		return fs_cli_usage_error("bench: --out DIR is required (where results.csv, report.md and plots go)");
	if (o->merge && argc != 5)
		return fs_cli_usage_error("bench: --merge takes only --out (it runs nothing)");
	return 0;
}

int fs_cmd_bench(int argc, char **argv)
{
	bench_plan p = { .size = "small", .seed = "1", .graph = "kron", .cpu = 0, .reps = 3 };
	bench_opts o = { 0 };
	char cmdline[2048] = "farsight bench";
	for (int i = 1; i < argc; i++) {
		size_t l = strlen(cmdline);
		snprintf(cmdline + l, sizeof cmdline - l, " %s", argv[i]);
	}
	int rc = parse(argc, argv, &o, &p);
	if (rc)
		return rc < 0 ? 0 : rc;
	if (o.merge)
		return merge(o.merge, p.out_dir, cmdline);
	p.command_line = cmdline;
	if ((rc = bench_plan_make(&p, &o))) {
		free(p.runs);
		return rc;
	}
	int failures = bench_run_all(&p);
	if (failures < 0 || p.dry) {
		free(p.runs);
		return failures < 0 ? 1 : 0;
	}
	bench_write_csv(&p);
	bench_write_report(&p);
	char el[32];
	bench_fmt_dur(bench_now() - p.started, el, sizeof el);
	fprintf(stderr, "bench: done in %s: %s/results.csv, %s/report.md; %d failed run%s\n", el, p.out_dir,
		p.out_dir, failures, failures == 1 ? "" : "s");
	free(p.runs);
	return failures ? 1 : 0;
}
