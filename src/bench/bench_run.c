/*
 * bench_run.c - running a bench's plan, one run after the other (the machine has 2
 * vCPUs: runs are sequential, and by default pinned to one CPU with their pager).
 *
 * A run's budget and timeout come from its workload's runs before it (plan order:
 * baselines first): the plain median time (the 1.0 of normalised performance, and the
 * timeout: 40 x the plain wall time, at least 300 s), the reference checksum, the
 * footprint (median local_mem_peak_bytes of the all-local farsight runs), and for the
 * kernel baseline the memory its cgroup held beyond the footprint all-local.  Then
 * its command line is built (run_argv), it is executed and its outputs read
 * (run_exec), and a progress line with the time left is printed.
 */
#include "bench/bench.h"
#include "farsight.h"
#include "prefetch/policy.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The all-local runs' budget: 16G, or this machine's RAM if less (farsight run refuses
 * a budget beyond the RAM). */
static const char *huge_budget(void)
{
	static char buf[32];
	long pages = sysconf(_SC_PHYS_PAGES), psz = sysconf(_SC_PAGE_SIZE);
	uint64_t ram = pages > 0 && psz > 0 ? (uint64_t)pages * (uint64_t)psz : 0;
	if (ram && ram < (16ull << 30))
		snprintf(buf, sizeof buf, "%llu", (unsigned long long)(ram / FS_PAGE_SIZE * FS_PAGE_SIZE));
	else
		snprintf(buf, sizeof buf, "16G");
	return buf;
}

/* What the runs of one workload learn from its baselines, as the loop goes. */
typedef struct wl_state {
	const char *workload;
	double plain_median;  /* seconds; NaN until the plain runs are done */
	double footprint;     /* bytes; 0 until the all-local runs are done */
	double swap_overhead; /* the cgroup's all-local peak beyond the footprint; NaN: not yet */
	double timeout;       /* seconds per run */
	char ref[24];         /* the first successful plain run's checksum */
} wl_state;

/* A run's files and the strings its argv points into. */
typedef struct run_cmd {
	char base[1200], out[1300], err[1300], json[1300], trace[1300];
	char budget[32], cpu[16], limit[48], swap_size[32], cluster[16];
	char model[1200], variant[256];
	int swap_cluster; /* >= 0: the kernel baseline (its page-cluster) */
	int skip;         /* farsight without a model: not run */
	char *av[64];
	int ac;
} run_cmd;

void bench_fmt_dur(double s, char *out, size_t n)
{
	if (s < 60)
		snprintf(out, n, "%.0fs", s);
	else if (s < 3600)
		snprintf(out, n, "%dm%02ds", (int)s / 60, (int)s % 60);
	else
		snprintf(out, n, "%dh%02dm", (int)s / 3600, ((int)s % 3600) / 60);
}

int bench_mkdir_p(const char *path)
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

static const char *kind_label(int kind)
{
	return kind == RUN_PLAIN ? "plain" : kind == RUN_HUGE ? "local" : kind == RUN_RECORD ? "record" : "far";
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

/* Before run i: what its workload's finished baselines say (see the file comment). */
static void baselines(const bench_plan *p, int i, wl_state *s)
{
	const bench_run *r = &p->runs[i];
	if (r->workload != s->workload) {
		*s = (wl_state){ .workload = r->workload, .plain_median = NAN, .swap_overhead = NAN,
				 .timeout = p->timeout ? p->timeout : 600 };
	}
	if (r->kind == RUN_HUGE && r->rep == 1) { /* the plain runs are done */
		double t[100], w[100];
		int n = 0;
		for (int k = 0; k < i; k++)
			if (p->runs[k].workload == s->workload && p->runs[k].kind == RUN_PLAIN && p->runs[k].status == 0) {
				w[n] = p->runs[k].wall_seconds;
				t[n++] = p->runs[k].seconds;
			}
		s->plain_median = n ? bench_median(t, n) : NAN;
		double plain_wall = n ? bench_median(w, n) : NAN;
		if (!p->timeout)
			s->timeout = isnan(plain_wall) ? 600 : fmax(300, 40 * plain_wall);
	}
	if ((r->kind == RUN_RECORD || r->kind == RUN_FAR) && !s->footprint && !p->dry) {
		double f[100];
		int n = 0;
		for (int k = 0; k < i; k++)
			if (p->runs[k].workload == s->workload && p->runs[k].kind == RUN_HUGE &&
			    !strcmp(p->runs[k].prefetch, "none") &&
			    !isnan(bench_kv_num(&p->runs[k], "local_mem_peak_bytes")))
				f[n++] = bench_kv_num(&p->runs[k], "local_mem_peak_bytes");
		s->footprint = n ? bench_median(f, n) : 0;
	}
	if (r->kind == RUN_FAR && bench_linux_swap_cluster(r->prefetch) >= 0 && isnan(s->swap_overhead) &&
	    !p->dry) {
		for (int k = 0; k < i; k++)
			if (p->runs[k].workload == s->workload && p->runs[k].kind == RUN_HUGE &&
			    p->runs[k].checksum_ok && bench_linux_swap_cluster(p->runs[k].prefetch) >= 0)
				s->swap_overhead = fmax(0, bench_kv_num(&p->runs[k], "local_mem_peak_bytes") -
							   s->footprint);
		if (isnan(s->swap_overhead))
			s->swap_overhead = 0;
	}
}

/* The kernel baseline's limit and swap size.  The cgroup charges the whole process,
 * farsight's budget only its far memory: the limit is the budget plus what the
 * all-local linux-swap run's cgroup held beyond the footprint (stack, libraries'
 * data, small allocations, page cache), so both keep the same share of the far-memory
 * pages.  At least the script's floor, 1 MiB. */
static void swap_limits(const bench_plan *p, const bench_run *r, const wl_state *s, run_cmd *c)
{
	double extra = r->kind == RUN_HUGE || isnan(s->swap_overhead) ? 0 : s->swap_overhead;
	uint64_t lim = r->kind == RUN_HUGE ? (uint64_t)16 << 30 :
		r->budget + ((uint64_t)ceil(extra / FS_PAGE_SIZE)) * FS_PAGE_SIZE;
	if (lim < (1u << 20))
		lim = 1u << 20;
	/* room for the whole footprint and the rest, twice, in whole MiB */
	uint64_t ss = ((uint64_t)(2 * (s->footprint + extra)) >> 20) + 256;
	if (p->dry) {
		snprintf(c->limit, sizeof c->limit, r->kind == RUN_HUGE ? "16G" : "<budget+overhead>");
		snprintf(c->swap_size, sizeof c->swap_size, "<2x-footprint+256M>");
	} else {
		snprintf(c->limit, sizeof c->limit, "%llu", (unsigned long long)lim);
		snprintf(c->swap_size, sizeof c->swap_size, "%lluM", (unsigned long long)ss);
	}
	snprintf(c->cluster, sizeof c->cluster, "%d", c->swap_cluster);
}

/* Run r's files and command line: the plain workload, the workload under `farsight
 * run`, or the plain workload under tools/linux-swap-run.sh. */
static void run_argv(const bench_plan *p, const bench_run *r, const wl_state *s, run_cmd *c)
{
	snprintf(c->base, sizeof c->base, "%s/%s-%s-r%d-%s-%d", p->logs, r->workload, kind_label(r->kind),
		 r->ratio, *r->prefetch ? r->prefetch : "plain", r->rep);
	/* A variant's value may hold a '/' (backend=tcp://...): not a folder in a file name. */
	for (char *q = c->base + strlen(p->logs) + 1; *q; q++)
		if (*q == '/')
			*q = '_';
	snprintf(c->out, sizeof c->out, "%s.out", c->base);
	snprintf(c->err, sizeof c->err, "%s.err", c->base);
	snprintf(c->json, sizeof c->json, "%s.json", c->base);
	snprintf(c->trace, sizeof c->trace, "%s/%s-r%d.trace", p->logs, r->workload, r->ratio);
	if (p->dry) /* the footprint is only known once the all-local run has happened */
		snprintf(c->budget, sizeof c->budget, "<%d%%-of-footprint>", r->ratio);
	else
		snprintf(c->budget, sizeof c->budget, "%llu", (unsigned long long)r->budget);
	c->swap_cluster = r->kind == RUN_FAR || r->kind == RUN_HUGE ? bench_linux_swap_cluster(r->prefetch) : -1;
	if (c->swap_cluster >= 0)
		swap_limits(p, r, s, c);
	snprintf(c->cpu, sizeof c->cpu, "%d", p->cpu);
	c->model[0] = 0;
	c->skip = 0;
	if (r->kind == RUN_FAR && bench_policy_is(r->prefetch, "farsight") &&
	    (!p->models || find_model(p->models, r->workload, c->model, sizeof c->model))) {
		fprintf(stderr, "bench: no model %s/%s.{fsm,model,bin} (see --models): skipping farsight on %s\n",
			p->models ? p->models : "DIR", r->workload, r->workload);
		c->skip = 1;
	}

	char **av = c->av;
	int ac = 0;
	if (c->swap_cluster >= 0) {
		/* the kernel baseline: no farsight; pinned like the others by bench_exec's
		 * affinity, which the script and the workload inherit */
		av[ac++] = (char *)p->swap_script;
		av[ac++] = "--limit";
		av[ac++] = c->limit;
		av[ac++] = "--swap";
		av[ac++] = (char *)bench_linux_swap_device(r->prefetch);
		av[ac++] = "--page-cluster";
		av[ac++] = c->cluster;
		av[ac++] = "--swap-size";
		av[ac++] = c->swap_size;
		av[ac++] = "--json";
		av[ac++] = c->json;
		av[ac++] = "--";
	} else if (r->kind != RUN_PLAIN) {
		av[ac++] = (char *)p->bin;
		av[ac++] = "run";
		av[ac++] = "--local-mem";
		av[ac++] = r->kind == RUN_HUGE ? (char *)huge_budget() : c->budget;
		av[ac++] = "--prefetch";
		av[ac++] = c->variant; /* the policy; its settings follow */
		ac += bench_variant_args(r->prefetch, c->variant, sizeof c->variant, av + ac, 16);
		av[ac++] = "--stats-json";
		av[ac++] = c->json;
		if (p->backend) {
			av[ac++] = "--backend";
			av[ac++] = (char *)p->backend;
		}
		if (p->cpu >= 0) {
			av[ac++] = "--pager-cpu";
			av[ac++] = c->cpu;
		}
		if (r->kind == RUN_RECORD) {
			av[ac++] = "--record";
			av[ac++] = c->trace;
		}
		if (r->kind == RUN_FAR && bench_policy_is(r->prefetch, "oracle")) {
			av[ac++] = "--trace";
			av[ac++] = c->trace;
		}
		if (*c->model) {
			av[ac++] = "--model";
			av[ac++] = c->model;
		}
		av[ac++] = "--";
	}
	av[ac++] = (char *)p->wl_bin;
	av[ac++] = (char *)r->workload;
	av[ac++] = "--size";
	av[ac++] = (char *)p->size;
	av[ac++] = "--seed";
	av[ac++] = (char *)p->seed;
	av[ac++] = "--graph";
	av[ac++] = (char *)p->graph;
	av[ac] = NULL;
	c->ac = ac;
}

/* The SKIP: reason linux-swap-run.sh printed before exiting 3. */
static void swap_skip_reason(const char *err, char *why, size_t n)
{
	*why = 0;
	FILE *ef = fopen(err, "r");
	if (!ef)
		return;
	char line[512];
	while (fgets(line, sizeof line, ef)) {
		char *s = strstr(line, "SKIP: ");
		if (s) {
			s[strcspn(s, "\n")] = 0;
			snprintf(why, n, "%s", s + 6);
		}
	}
	fclose(ef);
}

/* Execute run r and read its results.  Returns 1 if it counts as a failure, 0 if it
 * succeeded or was skipped (r->skipped). */
static int run_exec(bench_plan *p, bench_run *r, wl_state *s, const run_cmd *c)
{
	unlink(c->json);
	/* linux-swap gets SIGTERM on a timeout and a minute to swapoff and remove its
	 * cgroup before SIGKILL */
	r->status = bench_exec(c->av, c->out, c->err, p->cpu, s->timeout, c->swap_cluster >= 0 ? 60 : 0,
			       &r->wall_seconds, &r->maxrss_kb);
	if (c->swap_cluster >= 0 && r->status == 3) {
		/* exit 3: this machine cannot run the kernel baseline (no root, no cgroup
		 * v1): skip every linux-swap run, not a failure */
		char why[200];
		swap_skip_reason(c->err, why, sizeof why);
		snprintf(p->swap_skip, sizeof p->swap_skip, "%s", *why ? why : "linux-swap-run.sh exited 3 (skip)");
		fprintf(stderr, "bench: skipping the linux-swap baseline on this machine: %s (see %s)\n",
			p->swap_skip, c->err);
		r->skipped = 1;
		return 0;
	}
	r->done = 1;
	/* Time the workload's kernel, not its input generation (see bench.h). */
	double kernel = bench_read_kernel_seconds(c->err);
	r->seconds = isnan(kernel) ? r->wall_seconds : kernel;
	bench_read_checksum(c->out, r->checksum, sizeof r->checksum);
	if (r->kind != RUN_PLAIN) {
		int n = bench_read_json(c->json, r->kv, BENCH_MAX_KV - 1);
		r->n_kv = n > 0 ? n : 0;
	}
	/* The whole process's peak RSS, for every kind of run (the RAM a backend saves:
	 * docs/BACKENDS.md); under linux-swap the largest of the script and the workload. */
	if (r->maxrss_kb > 0) {
		bench_kv *kv = &r->kv[r->n_kv++];
		snprintf(kv->key, sizeof kv->key, "peak_rss_bytes");
		snprintf(kv->val, sizeof kv->val, "%lld", (long long)r->maxrss_kb * 1024);
	}
	if (c->swap_cluster >= 0) {
		/* 1: the program failed, its own status is in the JSON; 2/4: the script's
		 * usage or set-up error (a failure, see the err file) */
		double st = bench_kv_num(r, "exit_status");
		if (r->status == 1 && !isnan(st) && st != 0)
			r->status = (int)st;
		if (r->status == 2 || r->status == 4)
			fprintf(stderr, "bench:   linux-swap-run.sh could not set up the run (exit %d)\n", r->status);
	}
	if (r->kind == RUN_PLAIN && r->status == 0 && !*s->ref)
		snprintf(s->ref, sizeof s->ref, "%s", r->checksum);
	r->checksum_ok = r->status == 0 && *s->ref && !strcmp(r->checksum, s->ref);
	if (r->kind != RUN_PLAIN && r->kind != RUN_RECORD)
		r->normalised = isnan(s->plain_median) ? NAN : s->plain_median / r->seconds;
	else if (r->kind == RUN_PLAIN)
		r->normalised = NAN; /* filled in by the report from the median */
	int failed = !r->checksum_ok;
	if (r->kind == RUN_HUGE && c->swap_cluster < 0 && r->checksum_ok &&
	    isnan(bench_kv_num(r, "local_mem_peak_bytes"))) {
		fprintf(stderr, "bench: %s: the all-local farsight run left no local_mem_peak_bytes in %s; "
				"cannot size the budgets\n", r->workload, c->json);
		r->checksum_ok = 0;
		failed = 1;
	}
	return failed;
}

/* "bench: run 3 of 56: mcf far ratio 30% readahead rep 1: 1.23 s, norm 0.456, checksum
 * ok | elapsed 12s, about 1m05s left" */
static void progress(const bench_plan *p, int i, const run_cmd *c)
{
	const bench_run *r = &p->runs[i];
	char el[32], left[32];
	bench_fmt_dur(bench_now() - p->started, el, sizeof el);
	double e = eta(p, i + 1);
	if (isnan(e))
		snprintf(left, sizeof left, "?");
	else
		bench_fmt_dur(e, left, sizeof left);
	fprintf(stderr, "bench: run %d of %d: %-8s %-6s ratio %3d%% %-14s rep %d: %7.2f s", i + 1, p->n_runs,
		r->workload, kind_label(r->kind), r->ratio, *r->prefetch ? r->prefetch : "-", r->rep, r->seconds);
	if (r->kind == RUN_HUGE || r->kind == RUN_FAR)
		fprintf(stderr, ", norm %.3f", r->normalised);
	fprintf(stderr, ", %s | elapsed %s, about %s left\n",
		r->status == -1 ? "TIMEOUT" : r->status ? "FAILED" : r->checksum_ok ? "checksum ok" : "CHECKSUM MISMATCH",
		el, left);
	if (r->status && r->status != -1)
		fprintf(stderr, "bench:   exit status %d; see %s\n", r->status, c->err);
}

int bench_run_all(bench_plan *p)
{
	if (!p->dry && ((bench_mkdir_p(p->out_dir) && errno != EEXIST) || (mkdir(p->logs, 0755) && errno != EEXIST))) {
		fprintf(stderr, "farsight bench: cannot create %s: %s\n", p->logs, strerror(errno));
		return -1;
	}
	fprintf(stderr, "bench: %d runs (%d workloads x %d ratios x %d prefetchers x %d reps, plus baselines), "
			"size %s, %s, results in %s\n",
		p->n_runs, p->n_workloads, p->n_ratios, p->n_prefetch, p->reps, p->size,
		p->cpu >= 0 ? "pinned to one CPU" : "not pinned", p->out_dir);
	p->started = bench_now();
	/* Graph workloads load their CSR from here after the first run builds it (GAP
	 * loads serialised graphs too): the kernel, not the input build, is measured, and
	 * far-memory runs do not spend minutes in the build's scattered writes. */
	char gcache[4200];
	if (!getenv("FARSIGHT_GRAPH_CACHE") && !p->dry) {
		snprintf(gcache, sizeof gcache, "%s/graph-cache", p->out_dir);
		mkdir(gcache, 0755);
		setenv("FARSIGHT_GRAPH_CACHE", gcache, 1);
	}

	wl_state s = { 0 };
	run_cmd *c = malloc(sizeof *c);
	if (!c) {
		fprintf(stderr, "farsight bench: out of memory\n");
		return -1;
	}
	int failures = 0;
	for (int i = 0; i < p->n_runs; i++) {
		bench_run *r = &p->runs[i];
		baselines(p, i, &s);
		if (r->kind == RUN_RECORD || r->kind == RUN_FAR) {
			uint64_t pages = (uint64_t)ceil(s.footprint * r->ratio / 100.0 / FS_PAGE_SIZE);
			r->budget = (pages ? pages : 1) * FS_PAGE_SIZE;
		}
		run_argv(p, r, &s, c);
		if (c->swap_cluster >= 0 && *p->swap_skip) {
			r->skipped = 1;
			continue;
		}
		if (p->dry) {
			for (int k = 0; k < c->ac; k++)
				printf("%s%s", k ? " " : "", c->av[k]);
			printf("\n");
			continue;
		}
		if (c->skip)
			continue;
		failures += run_exec(p, r, &s, c);
		if (r->skipped)
			continue;
		progress(p, i, c);
		bench_write_csv(p);
		/* The oracle's trace is only needed for this ratio's oracle runs. */
		if (r->kind == RUN_FAR && bench_policy_is(r->prefetch, "oracle") && r->rep == p->reps)
			unlink(c->trace);
	}
	free(c);
	return failures;
}
