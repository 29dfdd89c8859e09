/*
 * stats.c - the statistics of a run: counters, latency percentiles, and the summary
 * printed at exit (human-readable on stderr, and JSON for scripts and the bench).
 *
 * Every count is one row of `rows` below: its JSON key, the words and the line it has
 * in the summary, and its definition (`farsight settings --stats`, and the table in
 * docs/ARCHITECTURE.md "How the numbers are defined" that tests/test_docs.sh checks).
 * The summary and the JSON are written from the same snapshot, so their numbers are
 * equal; a new counter is one field of fs_stats and one row here.
 */
#include "runtime/runtime.h"
#include "backend/backend.h"

#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <sys/resource.h>
#include <stdio.h>
#include <string.h>

void fs_latency_add(struct fs_latency *h, uint64_t ns)
{
	uint64_t b = ns / LAT_BUCKET_NS;
	if (b >= LAT_BUCKETS)
		b = LAT_BUCKETS - 1;
	atomic_fetch_add_explicit(&h->count[b], 1, memory_order_relaxed);
}

/* The q-quantile (0..1), in microseconds, at the middle of its bucket. */
double fs_latency_percentile(const struct fs_latency *h, double q)
{
	uint64_t total = 0;
	for (int i = 0; i < LAT_BUCKETS; i++)
		total += atomic_load_explicit(&h->count[i], memory_order_relaxed);
	if (!total)
		return 0;
	uint64_t rank = (uint64_t)(q * (double)(total - 1)) + 1, seen = 0;
	for (int i = 0; i < LAT_BUCKETS; i++) {
		seen += atomic_load_explicit(&h->count[i], memory_order_relaxed);
		if (seen >= rank)
			return (i + 0.5) * LAT_BUCKET_NS / 1000.0;
	}
	return LAT_BUCKETS * LAT_BUCKET_NS / 1000.0;
}

#define LOAD(x) atomic_load_explicit(&c->x, memory_order_relaxed)

void fs_stats_compute(const struct fs_counters *c, const struct fs_latency *lat_demand,
		      const struct fs_latency *lat_hit, uint64_t budget_pages, double wall_seconds,
		      fs_stats *s)
{
	memset(s, 0, sizeof(*s));
	s->faults = LOAD(faults);
	s->demand_fetches = LOAD(demand_fetches);
	s->zero_fills = LOAD(page.zero_fills);
	s->wp_faults = LOAD(wp_faults);
	s->other_faults = LOAD(other_faults);
	s->prefetches_issued = LOAD(prefetches_issued);
	s->prefetch_hits = LOAD(page.prefetch_hits);
	s->late_hits = LOAD(page.late_hits);
	s->promotions = LOAD(promotions);
	s->wasted_prefetches = LOAD(page.wasted_prefetches);
	s->evictions = LOAD(page.evictions);
	s->writebacks = LOAD(page.writebacks);
	s->reactivations = LOAD(page.reactivations);
	s->prefetches_mapped = LOAD(page.prefetches_mapped);
	s->far_bytes_read = LOAD(far_bytes_read);
	s->far_bytes_written = LOAD(far_bytes_written);
	s->local_mem_budget_bytes = budget_pages * FS_PAGE_SIZE;
	s->local_mem_peak_bytes = LOAD(page.peak_pages) * FS_PAGE_SIZE;
	s->fetch_latency_us_p50 = fs_latency_percentile(lat_demand, 0.50);
	s->fetch_latency_us_p99 = fs_latency_percentile(lat_demand, 0.99);
	s->hit_latency_us_p50 = fs_latency_percentile(lat_hit, 0.50);
	uint64_t ev = LOAD(policy_events);
	s->inference_ns_per_event = ev ? (double)LOAD(policy_ns) / (double)ev : 0;
	s->future_map_bytes = LOAD(policy_mem_bytes);
	/* Pages mapped on arrival are left out of accuracy: their touches raise no fault
	 * (a hit that is not seen), so neither hit nor waste can be told for them. */
	uint64_t seen = s->prefetches_issued - FS_MIN(s->prefetches_mapped, s->prefetches_issued);
	s->accuracy = seen ? (double)s->prefetch_hits / (double)seen : NAN;
	uint64_t touched = s->prefetch_hits + s->demand_fetches;
	s->coverage = touched ? (double)s->prefetch_hits / (double)touched : NAN;
	s->wall_seconds = wall_seconds;
	s->pager_cpu_seconds = (double)LOAD(pager_cpu_ns) / 1e9;
}
#undef LOAD

int fs_stats_get(fs_runtime *rt, fs_stats *s)
{
	fs_pager_cpu_publish(rt);
	fs_stats_compute(&rt->c, &rt->lat_demand, &rt->lat_hit, rt->pages.budget,
			 (double)(fs_now_ns() - rt->start_ns) / 1e9, s);
	snprintf(s->placement, sizeof(s->placement), "%s", rt->placement);
	struct rusage ru;
	if (!getrusage(RUSAGE_SELF, &ru))
		s->maxrss_bytes = (uint64_t)ru.ru_maxrss * 1024;
	if (rt->be && rt->be->ops->stats) {
		int n = rt->be->ops->stats(rt->be, s->backend_stats, FS_BACKEND_STATS_MAX);
		s->n_backend_stats = n > 0 ? (uint32_t)n : 0;
	}
	return FS_OK;
}

/* How a row's value is written: a count, bytes, a ratio (a percentage; n/a when it
 * has no denominator), microseconds, nanoseconds, seconds, text, or the backend's own
 * counters (a JSON object of name: value; a line of their own in the summary). */
enum kind { K_COUNT, K_BYTES, K_RATIO, K_US, K_NS, K_SEC, K_TEXT, K_BACKEND };
/* Its place in the summary: the head of a line ("faults 1200"), a part of the head
 * ("= 700 demand fetches + ..."; the parts add up to the head), an item (", accuracy
 * 80.0%"), or JSON only. */
enum role { JSON_ONLY, HEAD, PART, ITEM };

struct stat_row {
	const char *key;   /* JSON key (and fs_stats field) */
	enum kind kind;
	size_t off;
	int line;          /* summary line, 1..; 0 with JSON_ONLY */
	enum role role;
	const char *words; /* in the summary */
	const char *doc;   /* definition */
};

#define ROW(k, kind, line, role, words, doc) { #k, kind, offsetof(fs_stats, k), line, role, words, doc }
static const struct stat_row rows[] = {
	ROW(faults, K_COUNT, 2, HEAD, "faults",
	    "userfaultfd faults taken on far-memory pages; the sum of the six parts after it"),
	ROW(demand_fetches, K_COUNT, 2, PART, "demand fetches",
	    "faults on pages not held locally, served by a backend read the program waited for"),
	ROW(prefetch_hits, K_COUNT, 2, PART, "prefetch hits",
	    "faults on prefetched pages not yet touched (fetched, or still in flight: late_hits); "
	    "pages mapped on arrival raise none"),
	ROW(zero_fills, K_COUNT, 2, PART, "zero fills",
	    "first touches of pages never written: a zero page, no backend trip"),
	ROW(reactivations, K_COUNT, 2, PART, "reactivations",
	    "touches of pages the clock had unmapped to see whether they are still in use (their second chance)"),
	ROW(wp_faults, K_COUNT, 2, PART, "wp faults",
	    "first writes to clean mapped pages (write-protect faults: dirty tracking)"),
	ROW(other_faults, K_COUNT, 2, PART, "other faults",
	    "faults on pages already being fetched or already mapped (another thread's, or a raced retry)"),
	ROW(prefetches_issued, K_COUNT, 3, HEAD, "prefetches issued", "pages the prefetcher asked for and the backend read"),
	ROW(late_hits, K_COUNT, 3, ITEM, "late hits", "prefetch hits on pages still in flight (the program waited for the rest of the read)"),
	ROW(promotions, K_COUNT, 3, ITEM, "promoted",
	    "late hits whose read the backend moved ahead of the prefetches queued before it (mem, tcp)"),
	ROW(prefetches_mapped, K_COUNT, 3, ITEM, "mapped on arrival",
	    "prefetched pages mapped when they landed (prefetch_map direct: hermit, farsight): no fault on their touch, so not in hits, waste or accuracy"),
	ROW(wasted_prefetches, K_COUNT, 3, ITEM, "wasted prefetches",
	    "prefetched pages (not mapped on arrival) evicted or dropped before any touch"),
	ROW(accuracy, K_RATIO, 3, ITEM, "accuracy",
	    "prefetch_hits / (prefetches_issued - prefetches_mapped): of the prefetched pages whose touch can be seen, the share touched; n/a (null) without such pages"),
	ROW(coverage, K_RATIO, 3, ITEM, "coverage",
	    "prefetch_hits / (prefetch_hits + demand_fetches): the share of fetched pages the program found prefetched; n/a (null) without either"),
	ROW(local_mem_budget_bytes, K_BYTES, 1, ITEM, "local budget", "the local_mem budget for far-memory pages"),
	ROW(local_mem_peak_bytes, K_BYTES, 1, ITEM, "peak far-memory pages held",
	    "the most far-memory pages held locally at once, in bytes (the footprint, when the budget is larger)"),
	ROW(maxrss_bytes, K_BYTES, 1, ITEM, "peak RSS of the whole process",
	    "the process's peak resident memory (getrusage): the program's local memory, the runtime's, and with the mem backend the far pages too"),
	ROW(far_bytes_read, K_BYTES, 4, ITEM, "far bytes read", "bytes read from the backend (demand fetches and prefetches)"),
	ROW(far_bytes_written, K_BYTES, 4, ITEM, "far bytes written", "bytes written to the backend (write-backs)"),
	ROW(evictions, K_COUNT, 4, ITEM, "evictions", "pages released from local memory by reclaim"),
	ROW(writebacks, K_COUNT, 4, ITEM, "writebacks", "dirty pages written to the backend when evicted"),
	ROW(fetch_latency_us_p50, K_US, 5, ITEM, "fetch latency p50", "median time from reading a demand fault to mapping its page"),
	ROW(fetch_latency_us_p99, K_US, 5, ITEM, "p99", "99th percentile of the same"),
	ROW(hit_latency_us_p50, K_US, 5, ITEM, "prefetch hit p50", "median time from reading a prefetch-hit fault to mapping its page"),
	ROW(inference_ns_per_event, K_NS, 5, ITEM, "prefetcher", "the prefetcher's time per fault event (the model's inference for farsight)"),
	ROW(future_map_bytes, K_BYTES, 0, JSON_ONLY, "future maps", "memory of the farsight policy's future maps"),
	ROW(wall_seconds, K_SEC, 0, JSON_ONLY, "wall time", "seconds from the runtime's start to the snapshot"),
	ROW(pager_cpu_seconds, K_SEC, 5, ITEM, "pager CPU",
	    "CPU time the pager thread used (fault handling, reclaim, the prefetcher), seconds"),
	/* printed by their own lines (CPUs: ..., N processes with far memory ...) */
	ROW(placement, K_TEXT, 0, JSON_ONLY, "CPUs", "where the program and its pager run (the cpus setting as applied)"),
	ROW(processes, K_COUNT, 0, JSON_ONLY, "processes with far memory",
	    "process images of the run that started a runtime (the program, its children, what they exec'd)"),
	ROW(tree_faults, K_COUNT, 0, JSON_ONLY, "together: faults", "faults of all those processes"),
	ROW(tree_demand_fetches, K_COUNT, 0, JSON_ONLY, "demand fetches", "demand fetches of all those processes"),
	ROW(tree_zero_fills, K_COUNT, 0, JSON_ONLY, "zero fills", "zero fills of all those processes"),
	ROW(tree_evictions, K_COUNT, 0, JSON_ONLY, "evictions", "evictions of all those processes"),
	ROW(tree_far_bytes_read, K_BYTES, 0, JSON_ONLY, "far memory read", "bytes all those processes read from the backend"),
	ROW(tree_far_bytes_written, K_BYTES, 0, JSON_ONLY, "written", "bytes all those processes wrote to the backend"),
	ROW(tree_local_peak_bytes, K_BYTES, 0, JSON_ONLY, "largest local peak", "the largest local_mem_peak_bytes of any one of them"),
	ROW(backend_stats, K_BACKEND, 0, JSON_ONLY, "backend",
	    "the backend's own counters, an object of name: value (zmem and mem: pages and bytes held, compression; redis: servers lost, replica reads; defined in docs/BACKENDS.md); absent when the backend has none"),
};
#define N_LINES 5

static double row_value(const fs_stats *s, const struct stat_row *r)
{
	const char *p = (const char *)s + r->off;
	return r->kind == K_TEXT || r->kind == K_BACKEND ? NAN : r->kind == K_COUNT || r->kind == K_BYTES ? (double)*(const uint64_t *)p
										   : *(const double *)p;
}

static void row_text(const fs_stats *s, const struct stat_row *r, char *out, size_t n)
{
	double v = row_value(s, r);
	switch (r->kind) {
	case K_COUNT: snprintf(out, n, "%llu", (unsigned long long)v); break;
	case K_BYTES: fs_human_bytes(out, n, (uint64_t)v); break;
	case K_RATIO: isnan(v) ? snprintf(out, n, "n/a") : snprintf(out, n, "%.1f%%", 100 * v); break;
	case K_US: snprintf(out, n, "%.1f us", v); break;
	case K_NS: snprintf(out, n, "%.0f ns/event", v); break;
	case K_SEC: snprintf(out, n, "%.2f s", v); break;
	case K_TEXT: snprintf(out, n, "%s", (const char *)s + r->off); break;
	case K_BACKEND: snprintf(out, n, "%u counters", s->n_backend_stats); break;
	}
}

void fs_stats_describe(FILE *f, int markdown)
{
	if (markdown)
		fprintf(f, "| JSON key | in the summary | meaning |\n|---|---|---|\n");
	for (size_t i = 0; i < FS_ARRAY_SIZE(rows); i++)
		fprintf(f, markdown ? "| %s | %s | %s |\n" : "%-24s %-28s %s\n", rows[i].key,
			rows[i].role == JSON_ONLY ? (markdown ? "(JSON only)" : "-") : rows[i].words, rows[i].doc);
}

/* A one-line hint when the run mostly waited for demand fetches and read its budget
 * from far memory many times over: the working set is larger than the budget, and
 * a budget a little larger may be much faster (a cliff: sqlite3 3.2 s at 48M, about
 * 45 s at 40M for every prefetcher, issue 15). */
static void hint(const fs_stats *s, FILE *f)
{
	uint64_t fetched = s->demand_fetches + s->prefetch_hits;
	if (!s->local_mem_budget_bytes || fetched < 1000 || s->demand_fetches * 2 < fetched ||
	    s->far_bytes_read < 4 * s->local_mem_budget_bytes)
		return;
	char b[32];
	fs_human_bytes(b, sizeof b, s->local_mem_budget_bytes);
	fprintf(f, "farsight:   hint: %.0f%% of the fetched pages were demand fetches and %.1fx the budget was "
		   "read from far memory: the working set is larger than %s; a somewhat larger --local-mem "
		   "may run much faster (see docs/TUNING.md, budget cliffs)\n",
		100.0 * (double)s->demand_fetches / (double)fetched,
		(double)s->far_bytes_read / (double)s->local_mem_budget_bytes, b);
}

void fs_stats_print(const fs_stats *s, const fs_config *cfg, FILE *f)
{
	fprintf(f, "farsight: %.2f s, prefetcher %s, backend %s%s\n", s->wall_seconds,
		fs_setting_value_name("prefetch", cfg->prefetch), cfg->backend,
		!strcmp(cfg->backend, "mem") ? " (far pages emulated in this process: no RAM saved)" : "");
	for (int line = 1; line <= N_LINES; line++) {
		char buf[1024];
		size_t len = 0;
		int n = 0, parts = 0;
		for (size_t i = 0; i < FS_ARRAY_SIZE(rows); i++) {
			const struct stat_row *r = &rows[i];
			if (r->line != line || r->role == JSON_ONLY)
				continue;
			char v[48];
			row_text(s, r, v, sizeof v);
			const char *sep = r->role == PART ? (parts++ ? " + " : " = ") : n ? ", " : "";
			if (r->kind == K_COUNT) /* "700 demand fetches"; a head: "faults 1200" */
				len += (size_t)snprintf(buf + len, sizeof buf - len, "%s%s %s", sep,
							r->role == HEAD ? r->words : v, r->role == HEAD ? v : r->words);
			else
				len += (size_t)snprintf(buf + len, sizeof buf - len, "%s%s %s%s", sep, r->words, v,
							r->off == offsetof(fs_stats, accuracy) && s->prefetches_mapped
								? " (of the pages not mapped on arrival)" : "");
			n++;
			if (len >= sizeof buf)
				len = sizeof buf - 1;
		}
		if (n)
			fprintf(f, "farsight:   %s\n", buf);
	}
	if (s->placement[0])
		fprintf(f, "farsight:   CPUs: %s\n", s->placement);
	if (s->processes > 1) {
		char trd[32], twr[32], tpk[32];
		fs_human_bytes(trd, sizeof(trd), s->tree_far_bytes_read);
		fs_human_bytes(twr, sizeof(twr), s->tree_far_bytes_written);
		fs_human_bytes(tpk, sizeof(tpk), s->tree_local_peak_bytes);
		fprintf(f,
			"farsight:   %llu processes with far memory, together: faults %llu (%llu demand "
			"fetches, %llu zero fills), %llu evictions, far memory read %s, written %s; "
			"largest local peak %s\n",
			(unsigned long long)s->processes, (unsigned long long)s->tree_faults,
			(unsigned long long)s->tree_demand_fetches,
			(unsigned long long)s->tree_zero_fills, (unsigned long long)s->tree_evictions,
			trd, twr, tpk);
	}
	if (s->n_backend_stats) {
		/* the backend's own counters (docs/BACKENDS.md defines them) */
		fprintf(f, "farsight:   backend %s:", cfg->backend);
		for (uint32_t i = 0; i < s->n_backend_stats; i++)
			fprintf(f, "%s %s %.4g", i ? "," : "", s->backend_stats[i].name,
				s->backend_stats[i].value);
		fprintf(f, "\n");
	}
	hint(s, f);
	fprintf(f, "farsight:   (what each number means: farsight settings --stats)\n");
}

int fs_stats_write_json(const fs_stats *s, const fs_config *cfg, const char *path)
{
	/* fs_out_open: renamed into place if PATH is a regular file, written in place
	 * if it is a device or FIFO (--stats-json /dev/stdout), never replacing one. */
	fs_outfile out;
	if (fs_out_open(&out, path, FS_OUT_ATOMIC, NULL, 0))
		return FS_EIO;
	FILE *f = out.f;
	fprintf(f, "{\n  \"prefetch\": ");
	fs_json_str(f, fs_setting_value_name("prefetch", cfg->prefetch));
	fprintf(f, ",\n  \"backend\": ");
	fs_json_str(f, cfg->backend);
	for (size_t i = 0; i < FS_ARRAY_SIZE(rows); i++) {
		double v = row_value(s, &rows[i]);
		if (rows[i].kind == K_BACKEND) {
			if (!s->n_backend_stats)
				continue;
			fprintf(f, ",\n  \"%s\": {", rows[i].key);
			for (uint32_t k = 0; k < s->n_backend_stats; k++) {
				fprintf(f, "%s\n    ", k ? "," : "");
				fs_json_str(f, s->backend_stats[k].name);
				fprintf(f, ": %.10g", s->backend_stats[k].value);
			}
			fprintf(f, "\n  }");
		} else if (rows[i].kind == K_TEXT) {
			fprintf(f, ",\n  \"%s\": ", rows[i].key);
			fs_json_str(f, (const char *)s + rows[i].off);
		} else if (rows[i].kind == K_COUNT || rows[i].kind == K_BYTES)
			fprintf(f, ",\n  \"%s\": %llu", rows[i].key, (unsigned long long)v);
		else if (isnan(v))
			fprintf(f, ",\n  \"%s\": null", rows[i].key);
		else
			fprintf(f, ",\n  \"%s\": %.6g", rows[i].key, v);
	}
	fprintf(f, "\n}\n");
	return fs_out_commit(&out, NULL, 0);
}
