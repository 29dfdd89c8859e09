/*
 * scan.c - what a page moved costs the program: a sequential scan and a random page
 * walk over far memory larger than the budget, side by side in one run.
 *
 * The program: a region of --mib MiB (written once), then --passes passes that read
 * one word per 64 bytes, in address order (--walk seq) or along a fixed random cycle
 * of its pages (--walk cycle: every pass the same order, so a trace of one pass
 * predicts the next ones perfectly).  The same passes over plain anonymous memory give
 * the all-local time.  Each configuration is a runtime started with its settings
 * (name=SPEC, SPEC a comma-separated list of setting=value); by default:
 *   demand        prefetch=none                          every page a demand miss
 *   prefetched    readahead (seq) / oracle (cycle), prefetch_map=fault:
 *                 pages prefetched, each first touch a minor fault (a prefetch hit)
 *   mapped        the same with prefetch_map=direct: mapped on arrival, no fault
 * The cycle walk's oracle replays a trace of one pass recorded by a first run.
 *
 * Per configuration (medians over --reps runs, each run's figure the median of its
 * passes after the first): normalised = all-local pass / pass; the program-visible
 * cost per page = (pass - all-local pass) / pages in the region; faults, demand
 * fetches and pages read from far memory per pass; the pager's CPU time per page read;
 * and the limit the backend's bandwidth sets: normalised cannot exceed all-local /
 * (pages read x transfer time per page).  Beside them, measured in the same run, the
 * floors: a bare UFFDIO_CONTINUE and a plain first-touch kernel fault.
 *
 *   build/bench/scan [--mib N] [--ratio R] [--passes N] [--reps N] [--walk seq|cycle]
 *                    [--config NAME=SPEC ...] [--json FILE]
 * Settings not named come from FARSIGHT_* variables and the defaults (mem backend,
 * 5 us, 25 Gbit/s).  Not a test: it measures and prints.
 */
#include "farsight.h"
#include "floors.h"

#include <math.h>

#define MAXCFG 16

struct cfg {
	char name[32];
	char spec[256];
	double pass_s[64], cost_us[64], faults[64], demand[64], late[64], read_pages[64], pager_us[64];
	int n;
};

static size_t region_pages;
static int passes = 4, reps = 3;
static int walk_cycle;
static uint64_t *order; /* the page order of a pass */

static double median(double *v, int n)
{
	double t[64];
	memcpy(t, v, (size_t)n * sizeof(double));
	for (int i = 1; i < n; i++)
		for (int j = i; j > 0 && t[j] < t[j - 1]; j--) {
			double x = t[j];
			t[j] = t[j - 1];
			t[j - 1] = x;
		}
	return n ? (n % 2 ? t[n / 2] : (t[n / 2 - 1] + t[n / 2]) / 2) : 0;
}

static uint64_t word_of(uint64_t page, uint64_t w)
{
	return page * 0x9e3779b97f4a7c15ull + w;
}

static void fill(uint64_t *a)
{
	for (size_t p = 0; p < region_pages; p++)
		for (size_t w = 0; w < PG / 8; w += 8)
			a[p * (PG / 8) + w] = word_of(p, w);
}

/* One pass; returns its time, and checks every word read. */
static double pass(const uint64_t *a, uint64_t *bad)
{
	uint64_t t0 = now_ns(), wrong = 0;
	for (size_t i = 0; i < region_pages; i++) {
		uint64_t p = order[i];
		const volatile uint64_t *q = a + p * (PG / 8);
		for (size_t w = 0; w < PG / 8; w += 8)
			wrong += q[w] != word_of(p, w);
	}
	*bad += wrong;
	return (double)(now_ns() - t0) / 1e9;
}

static double local_pass_s(void)
{
	uint64_t *a = mmap(NULL, region_pages * PG, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	fill(a);
	double t[64];
	uint64_t bad = 0;
	for (int i = 0; i < passes; i++)
		t[i] = pass(a, &bad);
	munmap(a, region_pages * PG);
	return median(t + 1, passes - 1);
}

static int apply_spec(fs_config *c, const char *spec, char *err, size_t errlen)
{
	char buf[256];
	snprintf(buf, sizeof(buf), "%s", spec);
	for (char *save, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(t, '=');
		if (!eq) {
			snprintf(err, errlen, "'%s' is not setting=value", t);
			return -1;
		}
		*eq = 0;
		if (fs_config_set(c, t, eq + 1, err, errlen))
			return -1;
	}
	return 0;
}

static fs_config base_config(double ratio)
{
	fs_config c;
	char err[256];
	if (fs_config_from_env(&c, err, sizeof(err))) {
		fprintf(stderr, "scan: %s\n", err);
		exit(2);
	}
	c.local_mem = (uint64_t)((double)region_pages * ratio) * PG;
	c.arena_size = ((region_pages * PG * 2) + (64u << 20)) & ~(uint64_t)(PG - 1);
	c.quiet = 1;
	return c;
}

static const char *halt_poll(void)
{
	static char v[32] = "unknown";
	FILE *f = fopen("/sys/module/haltpoll/parameters/guest_halt_poll_ns", "r");
	if (f) {
		if (fscanf(f, "%31s", v) != 1)
			snprintf(v, sizeof(v), "unknown");
		fclose(f);
	}
	return v;
}

static void restore_affinity(void)
{
	pin_self(-1);
}

/* One run of configuration k; 0 or -1 (it could not start, or read a wrong word). */
static int run_one(struct cfg *k, double ratio, double local_s, const char *record)
{
	fs_config c = base_config(ratio);
	char err[512];
	if (apply_spec(&c, k->spec, err, sizeof(err))) {
		fprintf(stderr, "scan: config %s: %s\n", k->name, err);
		exit(2);
	}
	if (record)
		snprintf(c.record, sizeof(c.record), "%s", record);
	fs_runtime *rt;
	if (fs_runtime_start(&c, &rt, err, sizeof(err))) {
		fprintf(stderr, "scan: config %s: %s\n", k->name, err);
		return -1;
	}
	uint64_t *a = fs_alloc(rt, region_pages * PG);
	if (!a) {
		fprintf(stderr, "scan: fs_alloc failed\n");
		exit(1);
	}
	fill(a);
	double t[64];
	uint64_t bad = 0;
	fs_stats s0, s1;
	t[0] = pass(a, &bad);
	fs_stats_get(rt, &s0);
	for (int i = 1; i < passes; i++)
		t[i] = pass(a, &bad);
	fs_stats_get(rt, &s1);
	if (record)
		fs_runtime_report(rt, 0);
	fs_runtime_stop(rt);
	restore_affinity();
	if (bad) {
		fprintf(stderr, "scan: config %s read %llu wrong words\n", k->name,
			(unsigned long long)bad);
		return -1;
	}
	if (record)
		return 0;
	double np = passes - 1;
	double ps = median(t + 1, passes - 1);
	double rd = (double)(s1.far_bytes_read - s0.far_bytes_read) / PG / np;
	int i = k->n++;
	k->pass_s[i] = ps;
	k->cost_us[i] = (ps - local_s) * 1e6 / (double)region_pages;
	k->faults[i] = (double)(s1.faults - s0.faults) / np;
	k->demand[i] = (double)(s1.demand_fetches - s0.demand_fetches) / np;
	k->late[i] = (double)(s1.late_hits - s0.late_hits) / np;
	k->read_pages[i] = rd;
	k->pager_us[i] = rd > 0 ? (s1.pager_cpu_seconds - s0.pager_cpu_seconds) * 1e6 / np / rd : 0;
	return 0;
}

int main(int argc, char **argv)
{
	double mib = 256, ratio = 0.5;
	const char *json = NULL;
	struct cfg cfgs[MAXCFG];
	int ncfg = 0;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "--mib") && v)
			mib = atof(argv[++i]);
		else if (!strcmp(a, "--ratio") && v)
			ratio = atof(argv[++i]);
		else if (!strcmp(a, "--passes") && v)
			passes = atoi(argv[++i]);
		else if (!strcmp(a, "--reps") && v)
			reps = atoi(argv[++i]);
		else if (!strcmp(a, "--walk") && v)
			walk_cycle = !strcmp(argv[++i], "cycle");
		else if (!strcmp(a, "--json") && v)
			json = argv[++i];
		else if (!strcmp(a, "--config") && v && strchr(v, '=') && ncfg < MAXCFG) {
			const char *eq = strchr(v, '=');
			struct cfg *k = &cfgs[ncfg++];
			memset(k, 0, sizeof(*k));
			snprintf(k->name, sizeof(k->name), "%.*s", (int)(eq - v), v);
			snprintf(k->spec, sizeof(k->spec), "%s", eq + 1);
			i++;
		} else {
			fprintf(stderr, "usage: scan [--mib N] [--ratio R] [--passes N] [--reps N] "
					"[--walk seq|cycle] [--config NAME=SPEC ...] [--json FILE]\n");
			return 2;
		}
	}
	if (mib <= 0 || ratio <= 0 || passes < 2 || passes > 64 || reps < 1 || reps > 64) {
		fprintf(stderr, "scan: need --mib > 0, --ratio > 0, 2 <= --passes <= 64, 1 <= --reps <= 64\n");
		return 2;
	}
	region_pages = (size_t)(mib * 1024 * 1024 / PG);
	order = malloc(region_pages * sizeof(*order));
	for (size_t i = 0; i < region_pages; i++)
		order[i] = i;
	char trace[64] = "";
	if (walk_cycle) { /* a fixed random order of all pages */
		uint64_t x = 0x2545f4914f6cdd1dull;
		for (size_t i = region_pages - 1; i > 0; i--) {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			size_t j = x % (i + 1);
			uint64_t t = order[i];
			order[i] = order[j];
			order[j] = t;
		}
		snprintf(trace, sizeof(trace), "/tmp/fs-scan-%d.trace", (int)getpid());
	}
	if (!ncfg) {
		const char *pf = walk_cycle ? "oracle" : "readahead";
		char tr[128] = "";
		if (walk_cycle)
			snprintf(tr, sizeof(tr), ",trace=%s", trace);
		snprintf(cfgs[0].name, sizeof(cfgs[0].name), "demand");
		snprintf(cfgs[0].spec, sizeof(cfgs[0].spec), "prefetch=none");
		snprintf(cfgs[1].name, sizeof(cfgs[1].name), "prefetched");
		snprintf(cfgs[1].spec, sizeof(cfgs[1].spec), "prefetch=%s,prefetch_map=fault%s", pf, tr);
		snprintf(cfgs[2].name, sizeof(cfgs[2].name), "mapped");
		snprintf(cfgs[2].spec, sizeof(cfgs[2].spec), "prefetch=%s,prefetch_map=direct%s", pf, tr);
		ncfg = 3;
		for (int i = 0; i < 3; i++)
			cfgs[i].n = 0;
	}
	fs_config b = base_config(ratio);
	double xfer_ns = b.mem_bandwidth_gbps > 0 ? PG * 8.0 / b.mem_bandwidth_gbps : 0;
	printf("scan: %s walk, %.0f MiB (%zu pages), budget %.0f%% (%llu pages), %d passes x %d reps;\n"
	       "      backend %s, %.1f us latency, %.1f Gbit/s (%.2f us per page on the link); %ld CPUs; guest_halt_poll_ns %s\n",
	       walk_cycle ? "random-cycle" : "sequential", mib, region_pages, ratio * 100,
	       (unsigned long long)(b.local_mem / PG), passes, reps, b.backend, b.mem_latency_us,
	       b.mem_bandwidth_gbps, xfer_ns / 1000, sysconf(_SC_NPROCESSORS_ONLN), halt_poll());
	fflush(stdout);
	if (walk_cycle) { /* the oracle's trace: one run of the same program, policy none */
		struct cfg rec = { .name = "record", .spec = "prefetch=none" };
		if (run_one(&rec, ratio, 0, trace))
			return 1;
	}
	double local[64], fl_cont[64], fl_fault[64];
	for (int r = 0; r < reps; r++) {
		local[r] = local_pass_s();
		fl_cont[r] = floor_continue_ns(2000) / 1000;
		fl_fault[r] = floor_plain_fault_ns(2000) / 1000;
		for (int j = 0; j < ncfg; j++) { /* rotated, so drift hits every config alike */
			struct cfg *k = &cfgs[(j + r) % ncfg];
			if (run_one(k, ratio, local[r], NULL))
				return 1;
		}
	}
	if (trace[0])
		unlink(trace);
	double L = median(local, reps);
	printf("\nfloors (same run): UFFDIO_CONTINUE %.2f us, plain first-touch fault %.2f us; "
	       "all-local pass %.1f ms (%.3f us per page)\n\n",
	       median(fl_cont, reps), median(fl_fault, reps), L * 1e3, L * 1e6 / region_pages);
	printf("%-12s %7s %9s %8s %8s %8s %8s %8s %9s %8s  %s\n", "config", "norm", "pass ms",
	       "us/page", "faults", "demand", "late", "read pg", "pager us", "bw lim", "settings");
	FILE *jf = json ? fopen(json, "w") : NULL;
	if (jf)
		fprintf(jf, "{\"walk\": \"%s\", \"pages\": %zu, \"local_pass_s\": %.6f, \"continue_us\": %.3f, "
			    "\"plain_fault_us\": %.3f, \"configs\": [",
			walk_cycle ? "cycle" : "seq", region_pages, L, median(fl_cont, reps),
			median(fl_fault, reps));
	for (int j = 0; j < ncfg; j++) {
		struct cfg *k = &cfgs[j];
		double ps = median(k->pass_s, k->n), rd = median(k->read_pages, k->n);
		double limit = rd * xfer_ns / 1e9 > L ? L / (rd * xfer_ns / 1e9) : 1.0;
		printf("%-12s %7.3f %9.1f %8.2f %8.0f %8.0f %8.0f %8.0f %9.2f %8.3f  %s\n", k->name,
		       L / ps, ps * 1e3, median(k->cost_us, k->n), median(k->faults, k->n),
		       median(k->demand, k->n), median(k->late, k->n), rd, median(k->pager_us, k->n),
		       limit, k->spec);
		if (jf)
			fprintf(jf, "%s{\"name\": \"%s\", \"settings\": \"%s\", \"normalised\": %.4f, "
				    "\"pass_s\": %.6f, \"us_per_page\": %.3f, \"faults_per_pass\": %.0f, "
				    "\"demand_per_pass\": %.0f, \"late_hits_per_pass\": %.0f, \"pages_read_per_pass\": %.0f, "
				    "\"pager_us_per_page_read\": %.3f, \"bandwidth_limit\": %.4f}",
				j ? ", " : "", k->name, k->spec, L / ps, ps, median(k->cost_us, k->n),
				median(k->faults, k->n), median(k->demand, k->n), median(k->late, k->n),
				rd, median(k->pager_us, k->n), limit);
	}
	if (jf) {
		fprintf(jf, "]}\n");
		fclose(jf);
	}
	printf("\nnorm = all-local pass / pass (higher is better, 1.0 = all local); us/page = what a page\n"
	       "costs the program beyond all-local; pager us = pager CPU per page read from far memory;\n"
	       "bw limit = the best norm the link's bandwidth allows for the pages read.\n");
	free(order);
	return 0;
}
