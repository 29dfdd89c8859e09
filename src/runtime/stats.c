/*
 * stats.c - the statistics of a run: counters, latency percentiles, and the summary
 * printed at exit (human-readable on stderr, and JSON for scripts and the bench).
 *
 * Definitions (docs/ARCHITECTURE.md, "How the numbers are defined"):
 *   prefetch hit   a prefetched page touched before it was evicted (late hit: touched
 *                  while its fetch was still in flight);
 *   accuracy       prefetch_hits / prefetches_issued;
 *   coverage       prefetch_hits / (prefetch_hits + demand_fetches);
 *   fetch latency  from reading a demand fault to mapping the page.
 */
#include "runtime/runtime.h"

#include "backend/backend.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

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
	s->accuracy = s->prefetches_issued ? (double)s->prefetch_hits / (double)s->prefetches_issued : 0;
	uint64_t touched = s->prefetch_hits + s->demand_fetches;
	s->coverage = touched ? (double)s->prefetch_hits / (double)touched : 0;
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

static void human_bytes(char *out, size_t cap, uint64_t b)
{
	const char *unit[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	double v = (double)b;
	int u = 0;
	while (v >= 1024 && u < 4) {
		v /= 1024;
		u++;
	}
	snprintf(out, cap, u ? "%.1f %s" : "%.0f %s", v, unit[u]);
}

void fs_stats_print(const fs_stats *s, const fs_config *cfg, FILE *f)
{
	char budget[32], peak[32], rd[32], wr[32];
	human_bytes(budget, sizeof(budget), s->local_mem_budget_bytes);
	human_bytes(peak, sizeof(peak), s->local_mem_peak_bytes);
	human_bytes(rd, sizeof(rd), s->far_bytes_read);
	human_bytes(wr, sizeof(wr), s->far_bytes_written);
	fprintf(f,
		"farsight: %.2f s, prefetch %s, backend %s, local budget %s (peak %s)\n"
		"farsight:   faults %llu: %llu demand fetches, %llu prefetch hits (%llu late), "
		"%llu zero fills, %llu first writes\n"
		"farsight:   prefetches %llu issued, %llu wasted: accuracy %.1f%%, coverage %.1f%%\n"
		"farsight:   far memory read %s, written %s; %llu evictions, %llu second chances taken\n"
		"farsight:   fetch latency p50 %.1f us, p99 %.1f us; prefetch hit p50 %.1f us; "
		"prefetcher %.0f ns/event\n",
		s->wall_seconds, fs_setting_value_name("prefetch", cfg->prefetch), cfg->backend, budget, peak,
		(unsigned long long)s->faults, (unsigned long long)s->demand_fetches,
		(unsigned long long)s->prefetch_hits, (unsigned long long)s->late_hits,
		(unsigned long long)s->zero_fills, (unsigned long long)s->wp_faults,
		(unsigned long long)s->prefetches_issued, (unsigned long long)s->wasted_prefetches,
		100 * s->accuracy, 100 * s->coverage, rd, wr, (unsigned long long)s->evictions,
		(unsigned long long)s->reactivations,
		s->fetch_latency_us_p50, s->fetch_latency_us_p99, s->hit_latency_us_p50,
		s->inference_ns_per_event);
	if (s->placement[0])
		fprintf(f, "farsight:   CPUs: %s\n", s->placement);
	if (s->processes > 1) {
		char trd[32], twr[32], tpk[32];
		human_bytes(trd, sizeof(trd), s->tree_far_bytes_read);
		human_bytes(twr, sizeof(twr), s->tree_far_bytes_written);
		human_bytes(tpk, sizeof(tpk), s->tree_local_peak_bytes);
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
		char rss[32];
		human_bytes(rss, sizeof(rss), s->maxrss_bytes);
		fprintf(f, "farsight:   process peak RSS %s; backend:", rss);
		for (uint32_t i = 0; i < s->n_backend_stats; i++)
			fprintf(f, "%s %s %.4g", i ? "," : "", s->backend_stats[i].name,
				s->backend_stats[i].value);
		fprintf(f, "\n");
	}
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
#define U(k) fprintf(f, ",\n  \"" #k "\": %llu", (unsigned long long)s->k)
#define D(k) fprintf(f, ",\n  \"" #k "\": %.6g", s->k)
	U(faults);
	U(demand_fetches);
	U(zero_fills);
	U(wp_faults);
	U(prefetches_issued);
	U(prefetch_hits);
	U(late_hits);
	U(promotions);
	U(wasted_prefetches);
	U(evictions);
	U(writebacks);
	U(reactivations);
	U(prefetches_mapped);
	D(accuracy);
	D(coverage);
	U(local_mem_budget_bytes);
	U(local_mem_peak_bytes);
	U(far_bytes_read);
	U(far_bytes_written);
	D(fetch_latency_us_p50);
	D(fetch_latency_us_p99);
	D(hit_latency_us_p50);
	D(inference_ns_per_event);
	U(future_map_bytes);
	D(wall_seconds);
	D(pager_cpu_seconds);
	fprintf(f, ",\n  \"placement\": ");
	fs_json_str(f, s->placement);
	U(processes);
	U(tree_faults);
	U(tree_demand_fetches);
	U(tree_zero_fills);
	U(tree_evictions);
	U(tree_far_bytes_read);
	U(tree_far_bytes_written);
	U(tree_local_peak_bytes);
	U(maxrss_bytes);
#undef U
#undef D
	if (s->n_backend_stats) {
		fprintf(f, ",\n  \"backend_stats\": {");
		for (uint32_t i = 0; i < s->n_backend_stats; i++) {
			fprintf(f, "%s\n    ", i ? "," : "");
			fs_json_str(f, s->backend_stats[i].name);
			fprintf(f, ": %.10g", s->backend_stats[i].value);
		}
		fprintf(f, "\n  }");
	}
	fprintf(f, "\n}\n");
	return fs_out_commit(&out, NULL, 0);
}
