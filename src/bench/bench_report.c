/*
 * bench_report.c - what `farsight bench` leaves in its --out folder:
 *   results.csv  one row per run (baselines included), every key of its stats JSON;
 *   report.md    the command, the machine and thread placement, and per workload the
 *                baselines and a table of ratio x prefetcher medians;
 *   W.png        normalised performance vs local-memory ratio, one line per prefetcher
 *                (gnuplot; W.dat and W.gp are kept so a plot can be redone by hand).
 * Medians are over the successful repetitions; normalised performance of a
 * configuration is the plain all-local median time over its median time.
 */
#include "bench/bench.h"
#include "cli/cli.h"
#include "common/util.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

double bench_median(double *v, int n)
{
	if (n <= 0)
		return NAN;
	qsort(v, (size_t)n, sizeof *v, cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static const char *kind_name(const bench_run *r)
{
	int k = r->kind;
	if (k == RUN_HUGE && bench_linux_swap_cluster(r->prefetch) >= 0)
		return "all-local-linux-swap";
	return k == RUN_PLAIN ? "plain" : k == RUN_HUGE ? "all-local-farsight" : k == RUN_RECORD ? "record" : "far";
}

/* CSV-quote a field if it needs it. */
static void csv_field(FILE *f, const char *s)
{
	if (!strpbrk(s, ",\"\n")) {
		fputs(s, f);
		return;
	}
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"')
			fputc('"', f);
		fputc(*s, f);
	}
	fputc('"', f);
}

/* results.csv's own columns, before the stats keys (bench_write_csv, bench_read_csv). */
#define N_OURS 13
static const char *ours[N_OURS] = { "workload", "size", "kind", "ratio", "prefetch", "rep",
				    "budget_bytes", "seconds", "wall_seconds", "normalised",
				    "status", "checksum", "checksum_ok" };

int bench_write_csv(const bench_plan *p)
{
	char path[1100], err[1300];
	snprintf(path, sizeof path, "%s/results.csv", p->out_dir);
	/* the union of stats keys, in first-seen order */
	static char keys[256][64];
	int nk = 0;
	for (int i = 0; i < p->n_runs; i++)
		for (int k = 0; k < p->runs[i].n_kv; k++) {
			int seen = 0;
			for (int j = 0; j < nk && !seen; j++)
				seen = !strcmp(keys[j], p->runs[i].kv[k].key);
			if (!seen && nk < 256)
				snprintf(keys[nk++], sizeof keys[0], "%s", p->runs[i].kv[k].key);
		}
	fs_outfile out; /* renamed into place: a reader never sees half a table */
	if (fs_out_open(&out, path, FS_OUT_ATOMIC, err, sizeof err)) {
		fprintf(stderr, "farsight bench: %s\n", err);
		return -1;
	}
	FILE *f = out.f;
	for (int j = 0; j < N_OURS; j++)
		fprintf(f, "%s%s", j ? "," : "", ours[j]);
	/* stats keys that repeat one of our columns (prefetch) get a stats_ prefix */
	for (int j = 0; j < nk; j++) {
		int clash = 0;
		for (size_t o = 0; o < N_OURS; o++)
			clash |= !strcmp(keys[j], ours[o]);
		fputc(',', f);
		if (clash)
			fputs("stats_", f);
		csv_field(f, keys[j]);
	}
	fputc('\n', f);
	for (int i = 0; i < p->n_runs; i++) {
		const bench_run *r = &p->runs[i];
		if (!r->done)
			continue;
		fprintf(f, "%s,%s,%s,%d,%s,%d,%llu,%.4f,%.4f,", r->workload, p->size, kind_name(r),
			r->ratio, r->prefetch, r->rep, (unsigned long long)r->budget, r->seconds,
			r->wall_seconds);
		if (!isnan(r->normalised) && r->normalised > 0)
			fprintf(f, "%.4f", r->normalised);
		fprintf(f, ",%d,%s,%d", r->status, r->checksum, r->checksum_ok);
		for (int j = 0; j < nk; j++) {
			const char *v = bench_kv_get(r, keys[j]);
			fputc(',', f);
			if (v)
				csv_field(f, v);
		}
		fputc('\n', f);
	}
	if (fs_out_commit(&out, err, sizeof err)) {
		fprintf(stderr, "farsight bench: %s\n", err);
		return -1;
	}
	return 0;
}

/* Split one CSV line (as csv_field writes it) into at most max fields, in place;
 * returns the count, or -1 on an unterminated quote or more than max fields. */
static int csv_split(char *line, char **out, int max)
{
	int n = 0;
	char *c = line;
	line[strcspn(line, "\r\n")] = 0;
	for (;;) {
		if (n == max)
			return -1;
		if (*c == '"') { /* quoted: "" is a quote; unquote in place */
			char *w = ++c;
			out[n++] = w;
			for (;; c++) {
				if (!*c)
					return -1;
				if (*c == '"' && c[1] == '"') {
					*w++ = '"';
					c++;
				} else if (*c == '"') {
					c++;
					break;
				} else {
					*w++ = *c;
				}
			}
			*w = 0;
			if (*c && *c != ',')
				return -1;
		} else {
			out[n++] = c;
			c += strcspn(c, ",");
		}
		if (!*c)
			return n;
		*c++ = 0;
	}
}

/* Intern a name in a list (first-seen order); returns the list's copy, or NULL when
 * the list is full or out of memory.  The copies are freed by bench_merged_free. */
static const char *intern(const char **list, int *n, int max, const char *name)
{
	for (int i = 0; i < *n; i++)
		if (!strcmp(list[i], name))
			return list[i];
	if (*n == max)
		return NULL;
	char *copy = strdup(name);
	if (copy)
		list[(*n)++] = copy;
	return copy;
}

int bench_read_csv(bench_plan *p, int *cap, const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
		return -1;
	}
	char *line = NULL, *head = NULL;
	size_t lcap = 0, hcap = 0;
	char *names[N_OURS + 256], *vals[N_OURS + 256]; /* the writer's columns at most */
	int nh = 0, lineno = 1, rc = -1;
	if (getline(&head, &hcap, f) < 0 || (nh = csv_split(head, names, N_OURS + 256)) < 1) {
		snprintf(err, errlen, "%s: empty, or no header line of a farsight bench results.csv", path);
		goto out;
	}
	for (int j = 0; j < N_OURS; j++)
		if (j >= nh || strcmp(names[j], ours[j])) {
			snprintf(err, errlen, "%s: column %d is '%s', not '%s': not a results.csv of "
				 "farsight bench", path, j + 1, j < nh ? names[j] : "missing", ours[j]);
			goto out;
		}
	while (getline(&line, &lcap, f) >= 0) {
		lineno++;
		if (!line[strspn(line, "\r\n")])
			continue;
		int nv = csv_split(line, vals, N_OURS + 256);
		if (nv != nh) {
			snprintf(err, errlen, "%s:%d: %d fields where the header has %d (damaged or "
				 "truncated file)", path, lineno, nv < 0 ? 0 : nv, nh);
			goto out;
		}
		if (p->size && strcmp(p->size, vals[1])) {
			snprintf(err, errlen, "%s:%d: size %s where the files before had %s; benches of "
				 "different sizes do not merge", path, lineno, vals[1], p->size);
			goto out;
		}
		if (p->n_runs == *cap) {
			int ncap = *cap ? *cap * 2 : 256;
			bench_run *nr = realloc(p->runs, (size_t)ncap * sizeof *nr);
			if (!nr) {
				snprintf(err, errlen, "out of memory");
				goto out;
			}
			p->runs = nr;
			*cap = ncap;
		}
		bench_run *r = &p->runs[p->n_runs];
		memset(r, 0, sizeof *r);
		const char *k = vals[2];
		r->kind = !strcmp(k, "plain") ? RUN_PLAIN : !strcmp(k, "record") ? RUN_RECORD :
			  !strcmp(k, "far") ? RUN_FAR : !strncmp(k, "all-local-", 10) ? RUN_HUGE : -1;
		char *end;
		r->ratio = (int)strtol(vals[3], &end, 10);
		if (r->kind < 0 || *end || r->ratio < 0 || r->ratio > 100) {
			snprintf(err, errlen, "%s:%d: kind '%s', ratio '%s': not a row of farsight bench",
				 path, lineno, vals[2], vals[3]);
			goto out;
		}
		if (!p->size && !(p->size = p->merged_size = strdup(vals[1])))
			goto oom;
		r->workload = intern(p->workloads, &p->n_workloads, 8, vals[0]);
		/* The prefetcher columns are the far runs' prefetchers; the all-local and
		 * record runs name a baseline configuration (none, linux-swap). */
		static const char *const base[] = { "", "none", "linux-swap", "linux-swap-ra0",
						    "linux-swap-zram" };
		r->prefetch = NULL;
		for (size_t b = 0; r->kind != RUN_FAR && b < sizeof base / sizeof base[0]; b++)
			if (!strcmp(vals[4], base[b]))
				r->prefetch = base[b];
		if (!r->prefetch)
			r->prefetch = intern(p->prefetch, &p->n_prefetch, 16, vals[4]);
		if (!r->workload || !r->prefetch) {
			snprintf(err, errlen, "%s:%d: more than 8 workloads or 16 prefetchers in all", path,
				 lineno);
			goto out;
		}
		if (r->kind == RUN_FAR) {
			int seen = 0;
			for (int i = 0; i < p->n_ratios && !seen; i++)
				seen = p->ratios[i] == r->ratio;
			if (!seen && p->n_ratios < 16) { /* kept ascending */
				int at = p->n_ratios++;
				for (; at > 0 && p->ratios[at - 1] > r->ratio; at--)
					p->ratios[at] = p->ratios[at - 1];
				p->ratios[at] = r->ratio;
			}
		}
		/* Repetitions are numbered on across files: the n-th run of a configuration. */
		r->rep = 1;
		for (int i = 0; i < p->n_runs; i++) {
			const bench_run *o = &p->runs[i];
			r->rep += o->kind == r->kind && o->workload == r->workload && o->ratio == r->ratio &&
				  !strcmp(o->prefetch, r->prefetch);
		}
		if (r->rep > p->reps)
			p->reps = r->rep;
		r->budget = strtoull(vals[6], NULL, 10);
		r->seconds = strtod(vals[7], NULL);
		r->wall_seconds = strtod(vals[8], NULL);
		r->normalised = *vals[9] ? strtod(vals[9], NULL) : NAN;
		r->status = atoi(vals[10]);
		snprintf(r->checksum, sizeof r->checksum, "%s", vals[11]);
		r->checksum_ok = atoi(vals[12]);
		r->done = 1;
		for (int j = N_OURS; j < nh && r->n_kv < BENCH_MAX_KV; j++)
			if (*vals[j]) {
				snprintf(r->kv[r->n_kv].key, sizeof r->kv[0].key, "%s", names[j]);
				snprintf(r->kv[r->n_kv].val, sizeof r->kv[0].val, "%s", vals[j]);
				r->n_kv++;
			}
		/* One input per workload: every file's plain runs must agree on the checksum
		 * (a different seed, graph or size would not). */
		for (int i = 0; r->kind == RUN_PLAIN && r->status == 0 && i < p->n_runs; i++) {
			const bench_run *o = &p->runs[i];
			if (o->kind == RUN_PLAIN && o->workload == r->workload && o->status == 0 &&
			    strcmp(o->checksum, r->checksum)) {
				snprintf(err, errlen, "%s:%d: %s's all-local checksum %s differs from %s in "
					 "the files before: different inputs (seed, graph or size) do not "
					 "merge", path, lineno, r->workload, r->checksum, o->checksum);
				goto out;
			}
		}
		p->n_runs++;
	}
	rc = 0;
	goto out;
oom:
	snprintf(err, errlen, "out of memory");
out:
	free(line);
	free(head);
	fclose(f);
	return rc;
}

void bench_merged_free(bench_plan *p)
{
	for (int i = 0; i < p->n_workloads; i++)
		free((char *)p->workloads[i]);
	for (int i = 0; i < p->n_prefetch; i++)
		free((char *)p->prefetch[i]);
	free((char *)p->merged_size);
	free(p->runs);
}

/* A value of the successful runs matching (workload, kind, ratio, prefetch): into v
 * (up to 128), their count returned; *n_fail the runs that failed. */
typedef enum { V_SECONDS, V_KEY } vsel;
static int gather(const bench_plan *p, const char *w, int kind, int ratio, const char *pf,
		  vsel sel, const char *key, double v[128], int *n_fail)
{
	int n = 0, fails = 0;
	for (int i = 0; i < p->n_runs; i++) {
		const bench_run *r = &p->runs[i];
		if (!r->done || r->workload != w || r->kind != kind || r->ratio != ratio ||
		    strcmp(r->prefetch, pf))
			continue;
		if (!r->checksum_ok) {
			fails++;
			continue;
		}
		double x = sel == V_SECONDS ? r->seconds : bench_kv_num(r, key);
		if (!isnan(x) && n < 128)
			v[n++] = x;
	}
	if (n_fail)
		*n_fail = fails;
	return n;
}

/* Median of a value over the successful runs of a configuration. */
static double med(const bench_plan *p, const char *w, int kind, int ratio, const char *pf, vsel sel,
		  const char *key, int *n_ok, int *n_fail)
{
	double v[128];
	int n = gather(p, w, kind, ratio, pf, sel, key, v, n_fail);
	if (n_ok)
		*n_ok = n;
	return bench_median(v, n);
}

/* The fastest and slowest time of the successful runs of a configuration (NaN if none):
 * the spread behind a median. */
static void time_range(const bench_plan *p, const char *w, int kind, int ratio, const char *pf,
		       double *lo, double *hi)
{
	double v[128];
	int n = gather(p, w, kind, ratio, pf, V_SECONDS, NULL, v, NULL);
	*lo = *hi = NAN;
	for (int i = 0; i < n; i++) {
		if (isnan(*lo) || v[i] < *lo)
			*lo = v[i];
		if (isnan(*hi) || v[i] > *hi)
			*hi = v[i];
	}
}

/* The report opens with this: for each workload and ratio, the fastest prefetcher, how
 * far it is from all-local, and the slowest, so a reader has the answer before the
 * method. */
static void write_conclusion(FILE *f, const bench_plan *p)
{
	fprintf(f, "## Conclusion\n\n");
	for (int wi = 0; wi < p->n_workloads; wi++) {
		const char *w = p->workloads[wi];
		double plain = med(p, w, RUN_PLAIN, 0, "", V_SECONDS, NULL, NULL, NULL);
		for (int r = 0; r < p->n_ratios; r++) {
			int best = -1, worst = -1;
			double bs = NAN, ws = NAN;
			for (int k = 0; k < p->n_prefetch; k++) {
				double t = med(p, w, RUN_FAR, p->ratios[r], p->prefetch[k], V_SECONDS, NULL,
					       NULL, NULL);
				if (isnan(t))
					continue;
				if (best < 0 || t < bs) {
					best = k;
					bs = t;
				}
				if (worst < 0 || t > ws) {
					worst = k;
					ws = t;
				}
			}
			if (best < 0 || isnan(plain)) {
				fprintf(f, "- %s at %d%% local memory: no successful run.\n", w, p->ratios[r]);
				continue;
			}
			fprintf(f, "- %s at %d%% local memory: fastest **%s**, normalised %.3f (%.1fx slower "
				   "than all-local)", w, p->ratios[r], p->prefetch[best], plain / bs, bs / plain);
			if (worst != best)
				fprintf(f, "; slowest %s, %.3f", p->prefetch[worst], plain / ws);
			fprintf(f, ".\n");
		}
	}
	fprintf(f, "\nNormalised performance = all-local time / time under far memory: 1.0 is "
		   "all-local speed, higher is better.\n\n");
}

static void cpu_model(char *out, size_t n)
{
	FILE *f = fopen("/proc/cpuinfo", "r");
	char line[512];
	snprintf(out, n, "unknown");
	if (!f)
		return;
	while (fgets(line, sizeof line, f))
		if (!strncmp(line, "model name", 10)) {
			char *c = strchr(line, ':');
			if (c) {
				c += 1 + (c[1] == ' ');
				c[strcspn(c, "\n")] = 0;
				snprintf(out, n, "%s", c);
			}
			break;
		}
	fclose(f);
}

static void read_first_line(const char *path, char *out, size_t n)
{
	FILE *f = fopen(path, "r");
	snprintf(out, n, "unavailable");
	if (!f)
		return;
	if (fgets(out, (int)n, f))
		out[strcspn(out, "\n")] = 0;
	fclose(f);
}

static void fmt_num(char *out, size_t n, double v, const char *fmt)
{
	if (isnan(v))
		snprintf(out, n, "-");
	else
		snprintf(out, n, fmt, v);
}

static void plot(const bench_plan *p, const char *w)
{
	char dat[1100], gp[1100], png[1100];
	snprintf(dat, sizeof dat, "%s/%s.dat", p->out_dir, w);
	snprintf(gp, sizeof gp, "%s/%s.gp", p->out_dir, w);
	snprintf(png, sizeof png, "%s/%s.png", p->out_dir, w);
	double plain = med(p, w, RUN_PLAIN, 0, "", V_SECONDS, NULL, NULL, NULL);
	FILE *f = fopen(dat, "w");
	if (!f)
		return;
	fprintf(f, "# ratio");
	for (int k = 0; k < p->n_prefetch; k++)
		fprintf(f, " %s", p->prefetch[k]);
	fprintf(f, "\n");
	for (int r = 0; r < p->n_ratios; r++) {
		fprintf(f, "%d", p->ratios[r]);
		for (int k = 0; k < p->n_prefetch; k++) {
			double s = med(p, w, RUN_FAR, p->ratios[r], p->prefetch[k], V_SECONDS, NULL, NULL, NULL);
			if (isnan(s) || isnan(plain))
				fprintf(f, " NaN");
			else
				fprintf(f, " %.4f", plain / s);
		}
		fprintf(f, "\n");
	}
	fclose(f);
	f = fopen(gp, "w");
	if (!f)
		return;
	fprintf(f, "set terminal pngcairo size 800,500 noenhanced\n"
		   "set output '%s.png'\n"
		   "set title '%s (size %s): normalised performance vs local memory'\n"
		   "set xlabel 'local memory, %% of footprint'\n"
		   "set ylabel 'normalised performance (all-local time / time; higher is better)'\n"
		   "set yrange [0:*]\nset offsets 0, 0, 0.1, 0\n" /* room above the 1.0 line */
		   "set xrange [0:100]\nset key left top\nset grid\n"
		   "set datafile missing 'NaN'\n"
		   "plot ",
		w, w, p->size);
	for (int k = 0; k < p->n_prefetch; k++)
		fprintf(f, "%s'%s.dat' using 1:%d with linespoints title '%s'", k ? ", " : "", w, k + 2,
			p->prefetch[k]);
	fprintf(f, ", 1 with lines dashtype 2 lc rgb 'gray' title 'all local (1.0)'\n");
	fclose(f);
	/* gnuplot runs in the output folder so the script's relative names work. */
	pid_t pid = fork();
	if (pid == 0) {
		if (chdir(p->out_dir) == 0) {
			char name[256];
			snprintf(name, sizeof name, "%s.gp", w);
			freopen("/dev/null", "w", stdout);
			execlp("gnuplot", "gnuplot", name, (char *)NULL);
		}
		_exit(127);
	}
	int st = 0;
	if (pid > 0)
		waitpid(pid, &st, 0);
	if (pid < 0 || !WIFEXITED(st) || WEXITSTATUS(st))
		fprintf(stderr, "farsight bench: gnuplot failed for %s (is gnuplot-nox installed? "
				"tools/install-deps.sh); the data is in %s\n", w, dat);
	(void)png;
}

int bench_write_report(const bench_plan *p)
{
	char path[1100];
	snprintf(path, sizeof path, "%s/report.md", p->out_dir);
	FILE *f = fopen(path, "w");
	if (!f) {
		fprintf(stderr, "farsight bench: cannot write %s\n", path);
		return -1;
	}
	struct utsname u;
	uname(&u);
	char cpu[256], halt[64], date[64];
	cpu_model(cpu, sizeof cpu);
	read_first_line("/sys/module/haltpoll/parameters/guest_halt_poll_ns", halt, sizeof halt);
	time_t t = time(NULL);
	strftime(date, sizeof date, "%Y-%m-%d %H:%M UTC", gmtime(&t));

	fprintf(f, "# farsight bench report\n\n");
	fprintf(f, "Command: `%s` (%s)\n\n", p->command_line, date);
	write_conclusion(f, p);
	fprintf(f, "Machine: Linux %s, %ld vCPUs, %s; guest_halt_poll_ns = %s.\n\n", u.release,
		sysconf(_SC_NPROCESSORS_ONLN), cpu, halt);
	if (p->merged_from)
		fprintf(f, "Merged (`farsight bench --merge`) from %s: the runs of those benches, "
			   "repetitions numbered on across them.  Thread placement, seed and graph are "
			   "in those benches' reports; the files agree on the size and on every "
			   "workload's all-local checksum.  Runs of different benches were not taken "
			   "side by side: a median may pool runs of different hours.\n\n", p->merged_from);
	else if (p->cpu >= 0)
		fprintf(f, "Thread placement: every run (plain and under farsight) pinned to CPU %d, and "
			   "farsight's pager thread too (`--pager-cpu %d`), so that fault hand-offs never "
			   "cross vCPUs (a cross-vCPU wake-up costs 40-50 us on this VM).\n\n",
			p->cpu, p->cpu);
	else
		fprintf(f, "Thread placement: not pinned (`--cpu -1`); the pager and the workload may sit on "
			   "different vCPUs, where each wake-up costs 40-50 us on this VM.\n\n");
	if (p->merged_from)
		fprintf(f, "Workloads: size `%s`.  Up to %d repetition%s per configuration; medians.",
			p->size, p->reps, p->reps == 1 ? "" : "s");
	else
		fprintf(f, "Workloads: size `%s`, seed %s, graph %s, single-threaded.  %d repetition%s per "
			   "configuration; medians.", p->size, p->seed, p->graph, p->reps, p->reps == 1 ? "" : "s");
	fprintf(f, "  Times are the workloads' kernel times (the compute "
		   "phase, without generating the input, as GAP times its kernels; wall times of "
		   "whole processes are in results.csv).  Normalised performance = plain all-local "
		   "time / time under far memory.  Local-memory ratio = budget / footprint, footprint = "
		   "`local_mem_peak_bytes` of the all-local farsight run.  Timings on a shared "
		   "machine are noisy: compare rows of one report, not across reports.\n\n");

	int failed = 0, has_swap = 0;
	for (int i = 0; i < p->n_runs; i++)
		failed += p->runs[i].done && !p->runs[i].checksum_ok;
	for (int k = 0; k < p->n_prefetch; k++)
		has_swap |= bench_linux_swap_cluster(p->prefetch[k]) >= 0;
	if (has_swap && *p->swap_skip)
		fprintf(f, "**linux-swap skipped**: the kernel baseline could not run on this machine: %s.  "
			   "Its columns are empty; this is not a failure (tools/linux-swap-run.sh needs root "
			   "and a cgroup v1 memory controller, docs/BASELINES.md).\n\n",
			p->swap_skip);
	else if (has_swap)
		fprintf(f, "linux-swap (the kernel baseline, docs/BASELINES.md): the plain workload, without "
			   "farsight, under `tools/linux-swap-run.sh --swap file --page-cluster 3` "
			   "(`linux-swap-ra0`: page-cluster 0, no swap readahead; `linux-swap-zram`: `--swap zram "
			   "--page-cluster 0`, compressed RAM), pinned like the other runs, in "
			   "a cgroup v1 memory cgroup whose limit is the same budget plus the cgroup's overhead "
			   "(what the all-local linux-swap run held beyond the footprint: stack, libraries' "
			   "data, small allocations, page cache; at least 1 MiB); the limit is "
			   "`local_mem_budget_bytes` in results.csv.  Demand fetches are its major faults, "
			   "prefetches the swap readahead pages (/proc/vmstat, system-wide: exact while "
			   "nothing else swaps).\n\n");

	for (int wi = 0; wi < p->n_workloads; wi++) {
		const char *w = p->workloads[wi];
		int n_ok;
		double plain = med(p, w, RUN_PLAIN, 0, "", V_SECONDS, NULL, &n_ok, NULL);
		double huge = med(p, w, RUN_HUGE, 0, "none", V_SECONDS, NULL, NULL, NULL);
		double foot = med(p, w, RUN_HUGE, 0, "none", V_KEY, "local_mem_peak_bytes", NULL, NULL);
		double swap_all = med(p, w, RUN_HUGE, 0, "linux-swap", V_SECONDS, NULL, NULL, NULL);
		double swap_peak = med(p, w, RUN_HUGE, 0, "linux-swap", V_KEY, "local_mem_peak_bytes", NULL, NULL);
		const char *ref = "";
		for (int i = 0; i < p->n_runs; i++)
			if (p->runs[i].workload == w && p->runs[i].kind == RUN_PLAIN && p->runs[i].status == 0) {
				ref = p->runs[i].checksum;
				break;
			}
		char a[32], b[32], c[32], d[32];
		fmt_num(a, sizeof a, plain, "%.2f s");
		fmt_num(b, sizeof b, huge, "%.2f s");
		fmt_num(c, sizeof c, plain / huge, "%.3f");
		fmt_num(d, sizeof d, foot / 1048576.0, "%.1f MiB");
		fprintf(f, "## %s\n\n", w);
		fprintf(f, "All-local: plain %s; under farsight with a huge budget %s (normalised %s). "
			   "Footprint %s. Checksum `%s`.\n\n",
			a, b, c, d, *ref ? ref : "(no successful plain run)");
		if (!isnan(swap_all)) {
			fmt_num(a, sizeof a, swap_all, "%.2f s");
			fmt_num(b, sizeof b, plain / swap_all, "%.3f");
			fmt_num(c, sizeof c, swap_peak / 1048576.0, "%.1f MiB");
			fmt_num(d, sizeof d, (swap_peak - foot) / 1048576.0, "%.1f MiB");
			fprintf(f, "All-local under linux-swap-run.sh (16G limit): %s (normalised %s); cgroup peak %s, "
				   "overhead beyond the footprint %s (added to each linux-swap budget).\n\n",
				a, b, c, d);
		}

		fprintf(f, "Median normalised performance:\n\n| local mem |");
		for (int k = 0; k < p->n_prefetch; k++)
			fprintf(f, " %s |", p->prefetch[k]);
		fprintf(f, "\n|---|");
		for (int k = 0; k < p->n_prefetch; k++)
			fprintf(f, "---|");
		fprintf(f, "\n");
		for (int r = 0; r < p->n_ratios; r++) {
			fprintf(f, "| %d%% |", p->ratios[r]);
			for (int k = 0; k < p->n_prefetch; k++) {
				double s = med(p, w, RUN_FAR, p->ratios[r], p->prefetch[k], V_SECONDS, NULL, NULL, NULL);
				fmt_num(a, sizeof a, plain / s, "%.3f");
				fprintf(f, " %s |", a);
			}
			fprintf(f, "\n");
		}
		fprintf(f, "\n| local mem | prefetcher | norm. perf | median time | time min-max | "
			   "prefetch hits | accuracy | coverage | demand fetches | runs ok | failed |\n"
			   "|---|---|---|---|---|---|---|---|---|---|---|\n");
		for (int r = 0; r < p->n_ratios; r++)
			for (int k = 0; k < p->n_prefetch; k++) {
				const char *pf = p->prefetch[k];
				int ok, bad;
				double s = med(p, w, RUN_FAR, p->ratios[r], pf, V_SECONDS, NULL, &ok, &bad);
				double hits = med(p, w, RUN_FAR, p->ratios[r], pf, V_KEY, "prefetch_hits", NULL, NULL);
				double acc = med(p, w, RUN_FAR, p->ratios[r], pf, V_KEY, "accuracy", NULL, NULL);
				double cov = med(p, w, RUN_FAR, p->ratios[r], pf, V_KEY, "coverage", NULL, NULL);
				double dem = med(p, w, RUN_FAR, p->ratios[r], pf, V_KEY, "demand_fetches", NULL, NULL);
				char e[32], g[32], h[32], span[48];
				double lo, hi;
				time_range(p, w, RUN_FAR, p->ratios[r], pf, &lo, &hi);
				if (isnan(lo))
					snprintf(span, sizeof span, "n/a");
				else
					snprintf(span, sizeof span, "%.2f-%.2f s", lo, hi);
				fmt_num(a, sizeof a, plain / s, "%.3f");
				fmt_num(b, sizeof b, s, "%.2f s");
				fmt_num(c, sizeof c, hits, "%.0f");
				fmt_num(d, sizeof d, acc, "%.3f");
				fmt_num(e, sizeof e, cov, "%.3f");
				fmt_num(g, sizeof g, dem, "%.0f");
				snprintf(h, sizeof h, "%d", bad);
				fprintf(f, "| %d%% | %s | %s | %s | %s | %s | %s | %s | %s | %d | %s |\n", p->ratios[r],
					pf, a, b, span, c, d, e, g, ok, bad ? h : "");
			}
		plot(p, w);
		fprintf(f, "\n![%s: normalised performance vs local memory](%s.png)\n\n", w, w);
	}
	if (failed) {
		fprintf(f, "## Failed runs\n\n| workload | kind | ratio | prefetcher | rep | status | checksum |\n"
			   "|---|---|---|---|---|---|---|\n");
		for (int i = 0; i < p->n_runs; i++) {
			const bench_run *r = &p->runs[i];
			if (!r->done || r->checksum_ok)
				continue;
			fprintf(f, "| %s | %s | %d%% | %s | %d | %s | `%s` |\n", r->workload, kind_name(r),
				r->ratio, *r->prefetch ? r->prefetch : "-", r->rep,
				r->status == -1 ? "timeout" : r->status ? "exit status" : "checksum mismatch",
				r->checksum);
		}
		fprintf(f, "\nLogs of every run are in logs/ (stdout, stderr, stats JSON).\n");
	} else {
		fprintf(f, "Every run's checksum matched its workload's all-local checksum.\n");
	}
	fclose(f);
	return failed;
}
