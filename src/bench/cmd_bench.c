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
 *   4. the kernel baseline, when --prefetch names linux-swap (or linux-swap-ra0): one
 *      all-local run of the plain workload under tools/linux-swap-run.sh with a 16G
 *      limit (the memory the cgroup charges it beyond the footprint: stack, libraries'
 *      data, small allocations, page cache), then per ratio runs with a cgroup v1
 *      memory limit of the same budget plus that overhead, a swapfile and
 *      vm.page-cluster 3 (0); its farsight-named stats JSON is read like the others'.
 *      Where the script cannot run (exit 3: no root, no cgroup v1) it is skipped, with
 *      a note in the report.
 * Every run's checksum is compared with the plain one; a mismatch, a crash or a timeout
 * is a failure in the report and makes the exit status 1.  Runs are sequential (the
 * machine has 2 vCPUs) and by default pinned to one CPU together with the pager thread
 * (--cpu), because a wake-up across vCPUs costs 40-50 us here (docs/BENCH.md).
 *
 * Files: bench_exec.c runs children and reads their output, bench_report.c writes
 * results.csv, report.md and the plots.
 */
#include "bench/bench.h"
#include "cli/cli.h"
#include "farsight.h"
#include "prefetch/policy.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define HUGE_BUDGET "16G"

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
		"                    with --models); linux-swap (linux-swap-ra0: page-cluster 0)\n"
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

static int split_list(char *s, const char **out, int max, const char *what)
{
	int n = 0;
	for (char *tok = strtok(s, ","); tok; tok = strtok(NULL, ",")) {
		if (n == max) {
			fs_cli_usage_error("bench: too many %s (at most %d)", what, max);
			return -1;
		}
		out[n++] = tok;
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

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void fmt_dur(double s, char *out, size_t n)
{
	if (s < 60)
		snprintf(out, n, "%.0fs", s);
	else if (s < 3600)
		snprintf(out, n, "%dm%02ds", (int)s / 60, (int)s % 60);
	else
		snprintf(out, n, "%dh%02dm", (int)s / 3600, ((int)s % 3600) / 60);
}

/* The model for workload w: DIR/<w>.fsm (.model, .bin), or, when --models names a
 * file, that file for every workload (e.g. the shipped models/default.fsm). */
static int find_model(const char *dir, const char *w, char *out, size_t n)
{
	static const char *exts[] = { ".fsm", ".model", ".bin" };
	struct stat st;
	if (stat(dir, &st) == 0 && S_ISREG(st.st_mode)) {
		snprintf(out, n, "%s", dir);
		return access(out, R_OK);
	}
	for (int i = 0; i < 3; i++) {
		snprintf(out, n, "%s/%s%s", dir, w, exts[i]);
		if (access(out, R_OK) == 0)
			return 0;
	}
	return -1;
}

/* Estimated time left: each remaining run is expected to take the mean of the
 * finished runs of the same workload and kind, or else of all finished runs. */
static double eta(const bench_plan *p, int next)
{
	double all = 0, left = 0;
	int n_all = 0;
	for (int i = 0; i < next; i++)
		if (p->runs[i].done) {
			all += p->runs[i].seconds;
			n_all++;
		}
	if (!n_all)
		return NAN;
	for (int i = next; i < p->n_runs; i++) {
		const bench_run *r = &p->runs[i];
		double sum = 0;
		int cnt = 0;
		for (int k = 0; k < next; k++)
			if (p->runs[k].done && p->runs[k].kind == r->kind &&
			    p->runs[k].workload == r->workload) {
				sum += p->runs[k].seconds;
				cnt++;
			}
		left += cnt ? sum / cnt : all / n_all;
	}
	return left;
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

/* mkdir -p: the --out folder and its parents. */
static int mkdir_p(const char *path)
{
	char buf[4096];
	snprintf(buf, sizeof buf, "%s", path);
	for (char *c = buf + 1; *c; c++) {
		if (*c != '/')
			continue;
		*c = 0;
		if (mkdir(buf, 0755) && errno != EEXIST)
			return -1;
		*c = '/';
	}
	return mkdir(buf, 0755);
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
	if (mkdir_p(out_dir) && errno != EEXIST) {
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

int fs_cmd_bench(int argc, char **argv)
{
	bench_plan p = { .size = "small", .seed = "1", .graph = "kron", .cpu = 0, .reps = 3 };
	char *wl_arg = NULL, *ratio_arg = NULL, *pf_arg = NULL;
	const char *models = NULL;
	char *merge_arg = NULL;
	double timeout = 0;
	int quick = 0, dry = 0, reps_given = 0, size_given = 0;
	char cmdline[2048] = "farsight bench";

	for (int i = 1; i < argc; i++) {
		size_t l = strlen(cmdline);
		snprintf(cmdline + l, sizeof cmdline - l, " %s", argv[i]);
	}
	for (int i = 1; i < argc; i++) {
		const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(o, "--help") || !strcmp(o, "-h")) {
			usage(stdout);
			return 0;
		}
		if (!strcmp(o, "--quick")) {
			quick = 1;
			continue;
		}
		if (!strcmp(o, "--dry-run")) {
			dry = 1;
			continue;
		}
		if (!v)
			return fs_cli_usage_error("bench: %s needs a value (see farsight bench --help)", o);
		i++;
		if (!strcmp(o, "--workloads"))
			wl_arg = argv[i];
		else if (!strcmp(o, "--ratios"))
			ratio_arg = argv[i];
		else if (!strcmp(o, "--prefetch"))
			pf_arg = argv[i];
		else if (!strcmp(o, "--reps")) {
			p.reps = atoi(v);
			reps_given = 1;
			if (p.reps < 1 || p.reps > 100)
				return fs_cli_usage_error("bench: --reps wants 1..100, not '%s'", v);
		} else if (!strcmp(o, "--size")) {
			if (strcmp(v, "tiny") && strcmp(v, "small") && strcmp(v, "full"))
				return fs_cli_usage_error("bench: --size is tiny, small or full, not '%s'", v);
			p.size = v;
			size_given = 1;
		} else if (!strcmp(o, "--seed"))
			p.seed = v;
		else if (!strcmp(o, "--graph"))
			p.graph = v;
		else if (!strcmp(o, "--backend"))
			p.backend = v;
		else if (!strcmp(o, "--cpu")) {
			char *end;
			long c = strtol(v, &end, 10);
			if (*end || c < -1 || c >= sysconf(_SC_NPROCESSORS_ONLN))
				return fs_cli_usage_error("bench: --cpu wants -1 or a CPU number below %ld, not '%s'",
							  sysconf(_SC_NPROCESSORS_ONLN), v);
			p.cpu = (int)c;
		} else if (!strcmp(o, "--timeout")) {
			timeout = atof(v);
			if (timeout <= 0)
				return fs_cli_usage_error("bench: --timeout wants seconds > 0, not '%s'", v);
		} else if (!strcmp(o, "--models"))
			models = v;
		else if (!strcmp(o, "--out"))
			p.out_dir = v;
		else if (!strcmp(o, "--merge"))
			merge_arg = argv[i];
		else
			return fs_cli_usage_error("bench: unknown option '%s' (see farsight bench --help)", o);
	}
	if (!p.out_dir)
		return fs_cli_usage_error("bench: --out DIR is required (where results.csv, report.md and plots go)");
	if (merge_arg) {
		if (argc != 5)
			return fs_cli_usage_error("bench: --merge takes only --out (it runs nothing)");
		return merge(merge_arg, p.out_dir, cmdline);
	}
	p.command_line = cmdline;

	/* workloads */
	char wl_default[] = "mcf,xgboost,pagerank,sssp";
	if ((p.n_workloads = split_list(wl_arg && !quick ? wl_arg : wl_default, p.workloads, 8,
					"workloads")) < 0)
		return 2;
	for (int i = 0; i < p.n_workloads; i++)
		if (!is_known_workload(p.workloads[i]))
			return fs_cli_usage_error("bench: unknown workload '%s' (mcf, xgboost, pagerank, sssp)",
						  p.workloads[i]);
	/* ratios */
	char ratio_default[] = "30,50,80,90", ratio_quick[] = "30,50";
	const char *ratio_txt[16];
	if ((p.n_ratios = split_list(quick ? ratio_quick : ratio_arg ? ratio_arg : ratio_default,
				     ratio_txt, 16, "ratios")) < 0)
		return 2;
	for (int i = 0; i < p.n_ratios; i++) {
		char *end;
		long r = strtol(ratio_txt[i], &end, 10);
		if (*end || r < 1 || r > 100)
			return fs_cli_usage_error("bench: a ratio is a percent from 1 to 100, not '%s'",
						  ratio_txt[i]);
		p.ratios[i] = (int)r;
	}
	/* prefetchers: every registered one by default (farsight only with models) */
	char why[300];
	if (pf_arg && !quick) {
		if ((p.n_prefetch = split_list(pf_arg, p.prefetch, 16, "prefetchers")) < 0)
			return 2;
		for (int i = 0; i < p.n_prefetch; i++)
			if (bench_linux_swap_cluster(p.prefetch[i]) < 0 &&
			    bench_variant_check(p.prefetch[i], why, sizeof why)) {
				if (strchr(p.prefetch[i], '+'))
					return fs_cli_usage_error("bench: %s", why);
				char list[256] = "";
				for (const char *const *n = fs_policy_names(); *n; n++)
					snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s",
						 *list ? ", " : "", *n);
				return fs_cli_usage_error("bench: unknown prefetcher '%s'; choose from: %s, "
							  "or the kernel baselines linux-swap, linux-swap-ra0",
							  p.prefetch[i], list);
			}
	} else {
		for (const char *const *n = fs_policy_names(); *n && p.n_prefetch < 16; n++)
			if (strcmp(*n, "farsight") || models)
				p.prefetch[p.n_prefetch++] = *n;
	}
	/* --quick runs the tiny inputs: at size small a single far-memory run at 30%
	 * (pagerank, readahead) took over 6 minutes here, so small cannot fit the quick
	 * matrix in 15 minutes (docs/BENCH.md).  --size overrides. */
	if (quick && !reps_given)
		p.reps = 1;
	if (quick && !size_given)
		p.size = "tiny";
	int has_oracle = 0;
	for (int i = 0; i < p.n_prefetch; i++)
		has_oracle |= bench_policy_is(p.prefetch[i], "oracle");

	int has_swap = 0;
	for (int i = 0; i < p.n_prefetch; i++)
		has_swap |= bench_linux_swap_cluster(p.prefetch[i]) >= 0;

	/* the plan */
	int per_wl = 2 * p.reps + has_swap + p.n_ratios * (p.n_prefetch * p.reps + has_oracle);
	p.runs = calloc((size_t)per_wl * p.n_workloads, sizeof *p.runs);
	if (!p.runs)
		return fs_cli_usage_error("bench: out of memory for the plan");
	for (int w = 0; w < p.n_workloads; w++) {
		for (int r = 0; r < p.reps; r++)
			add_run(&p, RUN_PLAIN, p.workloads[w], 0, "", r + 1);
		for (int r = 0; r < p.reps; r++)
			add_run(&p, RUN_HUGE, p.workloads[w], 0, "none", r + 1);
		if (has_swap) /* the kernel baseline's all-local run: its overhead */
			add_run(&p, RUN_HUGE, p.workloads[w], 0, "linux-swap", 1);
		for (int k = 0; k < p.n_ratios; k++) {
			if (has_oracle)
				add_run(&p, RUN_RECORD, p.workloads[w], p.ratios[k], "none", 1);
			for (int f = 0; f < p.n_prefetch; f++)
				for (int r = 0; r < p.reps; r++)
					add_run(&p, RUN_FAR, p.workloads[w], p.ratios[k], p.prefetch[f], r + 1);
		}
	}

	char logs[1024];
	snprintf(logs, sizeof logs, "%s/logs", p.out_dir);
	if (!dry && ((mkdir_p(p.out_dir) && errno != EEXIST) || (mkdir(logs, 0755) && errno != EEXIST))) {
		fprintf(stderr, "farsight bench: cannot create %s: %s\n", logs, strerror(errno));
		return 1;
	}
	/* Runs call farsight-workloads directly rather than `farsight workload` (which
	 * execs it): under `farsight run` each exec'd image starts its own runtime, and the
	 * oracle checks that the trace it replays was recorded from the same command line,
	 * which the intermediate `farsight workload` process is not. */
	char bin[1024], wl_bin[1024];
	snprintf(bin, sizeof bin, "%s/farsight", fs_cli_bindir());
	snprintf(wl_bin, sizeof wl_bin, "%s/farsight-workloads", fs_cli_bindir());
	if (access(wl_bin, X_OK) != 0)
		return fs_cli_usage_error("bench: cannot run %s (%s); build it with `make workloads`", wl_bin,
					  strerror(errno));

	/* The kernel baseline's script: next to the binaries' folder, or the env override. */
	char swap_script[1100];
	if (has_swap) {
		const char *env = getenv("FARSIGHT_LINUX_SWAP_SCRIPT");
		if (env && *env)
			snprintf(swap_script, sizeof swap_script, "%s", env);
		else
			snprintf(swap_script, sizeof swap_script, "%s/../tools/linux-swap-run.sh", fs_cli_bindir());
		if (access(swap_script, X_OK) != 0)
			return fs_cli_usage_error("bench: linux-swap needs the script %s, which cannot be run (%s); "
						  "set FARSIGHT_LINUX_SWAP_SCRIPT to tools/linux-swap-run.sh",
						  swap_script, strerror(errno));
		p.swap_script = swap_script;
	}

	fprintf(stderr, "bench: %d runs (%d workloads x %d ratios x %d prefetchers x %d reps, plus baselines), "
			"size %s, %s, results in %s\n",
		p.n_runs, p.n_workloads, p.n_ratios, p.n_prefetch, p.reps, p.size,
		p.cpu >= 0 ? "pinned to one CPU" : "not pinned", p.out_dir);
	p.started = now();
	/* Graph workloads load their CSR from here after the first run builds it (GAP
	 * loads serialised graphs too): the kernel, not the input build, is measured, and
	 * far-memory runs do not spend minutes in the build's scattered writes. */
	char gcache[4200];
	if (!getenv("FARSIGHT_GRAPH_CACHE") && !dry) {
		snprintf(gcache, sizeof gcache, "%s/graph-cache", p.out_dir);
		mkdir(gcache, 0755);
		setenv("FARSIGHT_GRAPH_CACHE", gcache, 1);
	}

	/* per-workload state as the loop goes */
	double plain_median = NAN, huge_footprint = 0, run_timeout = timeout ? timeout : 600;
	double swap_overhead = NAN; /* the cgroup's peak beyond the footprint, all-local */
	char ref[24] = "";
	const char *cur = NULL;
	int failures = 0;
	for (int i = 0; i < p.n_runs; i++) {
		bench_run *r = &p.runs[i];
		if (r->workload != cur) {
			cur = r->workload;
			plain_median = NAN;
			swap_overhead = NAN;
			huge_footprint = 0;
			ref[0] = 0;
		}
		/* Baselines finished: the reference time, checksum and footprint. */
		if (r->kind == RUN_HUGE && r->rep == 1) {
			double t[100], w[100];
			int n = 0;
			for (int k = 0; k < i; k++)
				if (p.runs[k].workload == cur && p.runs[k].kind == RUN_PLAIN && p.runs[k].status == 0) {
					w[n] = p.runs[k].wall_seconds;
					t[n++] = p.runs[k].seconds;
				}
			plain_median = n ? bench_median(t, n) : NAN;
			double plain_wall = n ? bench_median(w, n) : NAN;
			if (!timeout)
				run_timeout = isnan(plain_wall) ? 600 : fmax(300, 40 * plain_wall);
		}
		if ((r->kind == RUN_RECORD || r->kind == RUN_FAR) && !huge_footprint && !dry) {
			double f[100];
			int n = 0;
			for (int k = 0; k < i; k++)
				if (p.runs[k].workload == cur && p.runs[k].kind == RUN_HUGE &&
				    !strcmp(p.runs[k].prefetch, "none") &&
				    !isnan(bench_kv_num(&p.runs[k], "local_mem_peak_bytes")))
					f[n++] = bench_kv_num(&p.runs[k], "local_mem_peak_bytes");
			huge_footprint = n ? bench_median(f, n) : 0;
		}
		if (r->kind == RUN_RECORD || r->kind == RUN_FAR) {
			uint64_t pages = (uint64_t)ceil(huge_footprint * r->ratio / 100.0 / FS_PAGE_SIZE);
			r->budget = (pages ? pages : 1) * FS_PAGE_SIZE;
		}

		char base[1200], out[1300], err[1300], json[1300], trace[1300], budget[32], cpu[16];
		char limit[48], swap_size[32], cluster[16];
		int swap_cluster = r->kind == RUN_FAR || r->kind == RUN_HUGE ? bench_linux_swap_cluster(r->prefetch) : -1;
		if (swap_cluster >= 0 && r->kind == RUN_FAR && isnan(swap_overhead) && !dry) {
			for (int k = 0; k < i; k++)
				if (p.runs[k].workload == cur && p.runs[k].kind == RUN_HUGE && p.runs[k].checksum_ok &&
				    bench_linux_swap_cluster(p.runs[k].prefetch) >= 0)
					swap_overhead = fmax(0, bench_kv_num(&p.runs[k], "local_mem_peak_bytes") -
								huge_footprint);
			if (isnan(swap_overhead))
				swap_overhead = 0;
		}
		snprintf(base, sizeof base, "%s/%s-%s-r%d-%s-%d", logs, r->workload,
			 r->kind == RUN_PLAIN ? "plain" : r->kind == RUN_HUGE ? "local" : r->kind == RUN_RECORD ? "record" : "far",
			 r->ratio, *r->prefetch ? r->prefetch : "plain", r->rep);
		snprintf(out, sizeof out, "%s.out", base);
		snprintf(err, sizeof err, "%s.err", base);
		snprintf(json, sizeof json, "%s.json", base);
		snprintf(trace, sizeof trace, "%s/%s-r%d.trace", logs, r->workload, r->ratio);
		if (dry) /* the footprint is only known once the all-local run has happened */
			snprintf(budget, sizeof budget, "<%d%%-of-footprint>", r->ratio);
		else
			snprintf(budget, sizeof budget, "%llu", (unsigned long long)r->budget);
		if (swap_cluster >= 0) {
			/* The cgroup charges the whole process, farsight's budget only its far
			 * memory: the limit is the budget plus what the all-local linux-swap
			 * run's cgroup held beyond the footprint (stack, libraries' data, small
			 * allocations, page cache), so both keep the same share of the
			 * far-memory pages.  At least the script's floor, 1 MiB. */
			double extra = r->kind == RUN_HUGE || isnan(swap_overhead) ? 0 : swap_overhead;
			uint64_t lim = r->kind == RUN_HUGE ? (uint64_t)16 << 30 :
				r->budget + ((uint64_t)ceil(extra / FS_PAGE_SIZE)) * FS_PAGE_SIZE;
			if (lim < (1u << 20))
				lim = 1u << 20;
			/* room for the whole footprint and the rest, twice, in whole MiB */
			uint64_t ss = ((uint64_t)(2 * (huge_footprint + extra)) >> 20) + 256;
			if (dry) {
				snprintf(limit, sizeof limit, r->kind == RUN_HUGE ? "16G" : "<budget+overhead>");
				snprintf(swap_size, sizeof swap_size, "<2x-footprint+256M>");
			} else {
				snprintf(limit, sizeof limit, "%llu", (unsigned long long)lim);
				snprintf(swap_size, sizeof swap_size, "%lluM", (unsigned long long)ss);
			}
			snprintf(cluster, sizeof cluster, "%d", swap_cluster);
		}
		snprintf(cpu, sizeof cpu, "%d", p.cpu);
		char model[1200] = "";
		int skip = 0;
		if (r->kind == RUN_FAR && bench_policy_is(r->prefetch, "farsight") &&
		    (!models || find_model(models, r->workload, model, sizeof model))) {
			fprintf(stderr, "bench: no model %s/%s.{fsm,model,bin} (see --models): skipping farsight on %s\n",
				models ? models : "DIR", r->workload, r->workload);
			skip = 1;
		}

		if (swap_cluster >= 0 && *p.swap_skip) {
			r->skipped = 1;
			continue;
		}

		char *av[64];
		char variant[256];
		int ac = 0;
		if (swap_cluster >= 0) {
			/* the kernel baseline: no farsight; pinned like the others by bench_exec's
			 * affinity, which the script and the workload inherit */
			av[ac++] = (char *)p.swap_script;
			av[ac++] = "--limit";
			av[ac++] = limit;
			av[ac++] = "--swap";
			av[ac++] = "file";
			av[ac++] = "--page-cluster";
			av[ac++] = cluster;
			av[ac++] = "--swap-size";
			av[ac++] = swap_size;
			av[ac++] = "--json";
			av[ac++] = json;
			av[ac++] = "--";
		} else if (r->kind != RUN_PLAIN) {
			av[ac++] = bin;
			av[ac++] = "run";
			av[ac++] = "--local-mem";
			av[ac++] = r->kind == RUN_HUGE ? HUGE_BUDGET : budget;
			av[ac++] = "--prefetch";
			av[ac++] = variant; /* the policy; its settings follow */
			ac += bench_variant_args(r->prefetch, variant, sizeof variant, av + ac, 16);
			av[ac++] = "--stats-json";
			av[ac++] = json;
			if (p.backend) {
				av[ac++] = "--backend";
				av[ac++] = (char *)p.backend;
			}
			if (p.cpu >= 0) {
				av[ac++] = "--pager-cpu";
				av[ac++] = cpu;
			}
			if (r->kind == RUN_RECORD) {
				av[ac++] = "--record";
				av[ac++] = trace;
			}
			if (r->kind == RUN_FAR && bench_policy_is(r->prefetch, "oracle")) {
				av[ac++] = "--trace";
				av[ac++] = trace;
			}
			if (*model) {
				av[ac++] = "--model";
				av[ac++] = model;
			}
			av[ac++] = "--";
		}
		av[ac++] = wl_bin;
		av[ac++] = (char *)r->workload;
		av[ac++] = "--size";
		av[ac++] = (char *)p.size;
		av[ac++] = "--seed";
		av[ac++] = (char *)p.seed;
		av[ac++] = "--graph";
		av[ac++] = (char *)p.graph;
		av[ac] = NULL;

		if (dry) {
			for (int k = 0; k < ac; k++)
				printf("%s%s", k ? " " : "", av[k]);
			printf("\n");
			continue;
		}
		if (skip)
			continue;
		unlink(json);
		/* linux-swap gets SIGTERM on a timeout and a minute to swapoff and remove its
		 * cgroup before SIGKILL */
		r->status = bench_exec(av, out, err, p.cpu, run_timeout, swap_cluster >= 0 ? 60 : 0,
				       &r->wall_seconds, &r->maxrss_kb);
		if (swap_cluster >= 0 && r->status == 3) {
			/* exit 3: this machine cannot run the kernel baseline (no root, no
			 * cgroup v1): skip every linux-swap run, not a failure */
			char why[200] = "";
			FILE *ef = fopen(err, "r");
			if (ef) {
				char line[512];
				while (fgets(line, sizeof line, ef)) {
					char *s = strstr(line, "SKIP: ");
					if (s) {
						s[strcspn(s, "\n")] = 0;
						snprintf(why, sizeof why, "%s", s + 6);
					}
				}
				fclose(ef);
			}
			snprintf(p.swap_skip, sizeof p.swap_skip, "%s", *why ? why : "linux-swap-run.sh exited 3 (skip)");
			fprintf(stderr, "bench: skipping the linux-swap baseline on this machine: %s (see %s)\n",
				p.swap_skip, err);
			r->skipped = 1;
			continue;
		}
		r->done = 1;
		/* Time the workload's kernel, not its input generation (see bench.h). */
		double kernel = bench_read_kernel_seconds(err);
		r->seconds = isnan(kernel) ? r->wall_seconds : kernel;
		bench_read_checksum(out, r->checksum, sizeof r->checksum);
		if (r->kind != RUN_PLAIN) {
			int n = bench_read_json(json, r->kv, BENCH_MAX_KV);
			r->n_kv = n > 0 ? n : 0;
		}
		if (swap_cluster >= 0) {
			/* 1: the program failed, its own status is in the JSON; 2/4: the
			 * script's usage or set-up error (a failure, see the err file) */
			double st = bench_kv_num(r, "exit_status");
			if (r->status == 1 && !isnan(st) && st != 0)
				r->status = (int)st;
			if (r->status == 2 || r->status == 4)
				fprintf(stderr, "bench:   linux-swap-run.sh could not set up the run (exit %d)\n",
					r->status);
		}
		if (r->kind == RUN_PLAIN && r->status == 0 && !*ref)
			snprintf(ref, sizeof ref, "%s", r->checksum);
		r->checksum_ok = r->status == 0 && *ref && !strcmp(r->checksum, ref);
		if (r->kind != RUN_PLAIN && r->kind != RUN_RECORD)
			r->normalised = isnan(plain_median) ? NAN : plain_median / r->seconds;
		else if (r->kind == RUN_PLAIN)
			r->normalised = NAN; /* filled in by the report from the median */
		if (!r->checksum_ok)
			failures++;
		if (r->kind == RUN_HUGE && swap_cluster < 0 && r->checksum_ok &&
		    isnan(bench_kv_num(r, "local_mem_peak_bytes"))) {
			fprintf(stderr, "bench: %s: the all-local farsight run left no local_mem_peak_bytes in %s; "
					"cannot size the budgets\n", r->workload, json);
			r->checksum_ok = 0;
			failures++;
		}

		char el[32], left[32];
		fmt_dur(now() - p.started, el, sizeof el);
		double e = eta(&p, i + 1);
		if (isnan(e))
			snprintf(left, sizeof left, "?");
		else
			fmt_dur(e, left, sizeof left);
		fprintf(stderr, "bench: run %d of %d: %-8s %-6s ratio %3d%% %-14s rep %d: %7.2f s",
			i + 1, p.n_runs, r->workload,
			r->kind == RUN_PLAIN ? "plain" : r->kind == RUN_HUGE ? "local" : r->kind == RUN_RECORD ? "record" : "far",
			r->ratio, *r->prefetch ? r->prefetch : "-", r->rep, r->seconds);
		if (r->kind == RUN_HUGE || r->kind == RUN_FAR)
			fprintf(stderr, ", norm %.3f", r->normalised);
		fprintf(stderr, ", %s | elapsed %s, about %s left\n",
			r->status == -1 ? "TIMEOUT" : r->status ? "FAILED" : r->checksum_ok ? "checksum ok" : "CHECKSUM MISMATCH",
			el, left);
		if (r->status && r->status != -1)
			fprintf(stderr, "bench:   exit status %d; see %s\n", r->status, err);
		bench_write_csv(&p);
		/* The oracle's trace is only needed for this ratio's oracle runs. */
		if (r->kind == RUN_FAR && bench_policy_is(r->prefetch, "oracle") && r->rep == p.reps)
			unlink(trace);
	}
	if (dry) {
		free(p.runs);
		return 0;
	}
	bench_write_csv(&p);
	bench_write_report(&p);
	char el[32];
	fmt_dur(now() - p.started, el, sizeof el);
	fprintf(stderr, "bench: done in %s: %s/results.csv, %s/report.md; %d failed run%s\n", el, p.out_dir,
		p.out_dir, failures, failures == 1 ? "" : "s");
	free(p.runs);
	return failures ? 1 : 0;
}
