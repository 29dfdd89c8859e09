/*
 * test_driver.c - the policy driver (src/prefetch/driver.c) is the one path from events
 * to candidates: a runtime records its event stream while the driver's observer logs
 * every call the pager made; the recorded trace, fed through a fresh policy and driver
 * (what `farsight eval` and replay do), must give exactly the candidates the runtime
 * issued, event by event.  And the driver's chain rule: candidates of assumed hits only
 * below chain_depth, learning only past it, in arrival order.  And streams: a run's
 * tripwire, touched, issues the run after it, twice as long up to stream_max.
 */
#include "farsight.h"
#include "prefetch/driver.h"
#include "runtime/runtime.h"
#include "testlib.h"

#include <stdint.h>
#include <unistd.h>

#define LOG_MAX 200000

struct logged {
	fs_event ev;
	uint32_t depth;
	int n;
	uint64_t cand[FS_POLICY_MAX_CANDIDATES];
};

static struct logged *logv;
static size_t nlog;

static void observe(void *arg, const fs_event *ev, uint32_t depth, const uint64_t *cand, int n)
{
	if (nlog >= LOG_MAX)
		return;
	struct logged *l = &logv[nlog++];
	l->ev = *ev;
	l->depth = depth;
	l->n = n;
	memcpy(l->cand, cand, (size_t)n * sizeof(uint64_t));
}

static fs_config config(const char *prefetch, const char *trace)
{
	fs_config cfg;
	char err[256];
	if (fs_config_from_env(&cfg, err, sizeof(err))) {
		fprintf(stderr, "config: %s\n", err);
		exit(1);
	}
	cfg.local_mem = 64 * 4096;
	if (fs_config_set(&cfg, "prefetch", prefetch, err, sizeof(err))) {
		fprintf(stderr, "config: %s\n", err);
		exit(1);
	}
	snprintf(cfg.record, sizeof(cfg.record), "%s", trace);
	cfg.prefetch_map = FS_MAP_FAULT;
	snprintf(cfg.model, sizeof(cfg.model), "models/default.fsm");
	cfg.mem_latency_us = 1;
	cfg.arena_size = 1ull << 30;
	cfg.arena_base = 0;
	cfg.quiet = 1;
	return cfg;
}

/* Scans, a strided pass and a walk, over 4 MiB through a 256 KiB budget. */
static void program(fs_runtime *rt)
{
	size_t pages = 1024;
	volatile char *a = fs_alloc(rt, pages * 4096);
	for (size_t p = 0; p < pages; p++)
		a[p * 4096] = (char)p;
	unsigned sum = 0;
	for (int pass = 0; pass < 2; pass++)
		for (size_t p = 0; p < pages; p++)
			sum += (unsigned char)a[p * 4096];
	for (size_t p = 0; p < pages; p += 3)
		sum += (unsigned char)a[p * 4096];
	uint64_t x = 7;
	for (int i = 0; i < 2000; i++) {
		x = x * 6364136223846793005ull + 1442695040888963407ull;
		sum += (unsigned char)a[((x >> 33) % pages) * 4096];
	}
	(void)sum;
}

static void same_candidates(const char *prefetch)
{
	char trace[64];
	snprintf(trace, sizeof(trace), "/tmp/fs-driver-%d.trace", (int)getpid());
	fs_config cfg = config(prefetch, trace);
	fs_runtime *rt;
	char err[400];
	nlog = 0;
	int rc = fs_runtime_start(&cfg, &rt, err, sizeof(err));
	CHECK(rc == 0);
	if (rc) {
		fprintf(stderr, "  %s\n", err);
		return;
	}
	atomic_store(&rt->driver.observe_arg, NULL);
	atomic_store_explicit(&rt->driver.observe, observe, memory_order_release);
	program(rt);
	CHECK(fs_runtime_report(rt, 0) == 0);
	fs_runtime_stop(rt); /* joins the pager: its log is complete and visible */

	fs_trace_info info;
	fs_event *ev = NULL;
	size_t n = 0;
	CHECK(fs_trace_read(trace, &info, &ev, &n, err, sizeof(err)) == 0);
	unlink(trace);
	CHECK(n > 1000);
	CHECK_EQ_U64(n, nlog); /* no assumed hits with prefetch_map=fault: one call per event */

	fs_policy *pol;
	fs_config fresh = config(prefetch, "");
	CHECK(fs_policy_create(&fresh, &pol, err, sizeof(err)) == 0);
	fs_arrival arr;
	CHECK(fs_policy_arrival(&fresh, pol->ops, &arr, err, sizeof(err)) == 0);
	CHECK(!arr.map);
	fs_driver *d = calloc(1, sizeof(*d));
	fs_driver_init(d, pol, &arr);
	size_t differ = 0, with_cand = 0;
	for (size_t i = 0; i < n && i < nlog; i++) {
		uint64_t cand[FS_POLICY_MAX_CANDIDATES];
		int k = fs_driver_event(d, &ev[i], cand, FS_POLICY_MAX_CANDIDATES);
		const struct logged *l = &logv[i];
		with_cand += k > 0;
		if (l->depth != 0 || l->ev.page != ev[i].page || l->ev.kind != ev[i].kind ||
		    k != l->n || memcmp(cand, l->cand, (size_t)k * sizeof(uint64_t)))
			differ++;
	}
	CHECK_EQ_U64(differ, 0);
	CHECK(with_cand > 100); /* the policy really predicted something */
	free(d);
	pol->ops->destroy(pol);
	free(ev);
}

TEST(replay_issues_the_runtimes_candidates_readahead)
{
	same_candidates("readahead");
}

TEST(replay_issues_the_runtimes_candidates_leap)
{
	same_candidates("leap");
}

TEST(replay_issues_the_runtimes_candidates_farsight)
{
	same_candidates("farsight");
}

/* A policy that predicts page+1 and page+2 for every event. */
static int next2(fs_policy *p, const fs_event *ev, uint64_t *out, int max)
{
	int n = 0;
	for (int k = 1; k <= 2 && n < max; k++)
		out[n++] = ev->page + (uint64_t)k;
	return n;
}
static void nodestroy(fs_policy *p) {}
static const fs_policy_ops next2_ops = { .name = "next2", .on_event = next2, .destroy = nodestroy };

TEST(chains_end_at_their_depth)
{
	fs_policy pol = { &next2_ops };
	fs_arrival arr = { .map = 1, .chain = 1, .chain_depth = 2 };
	fs_driver *d = calloc(1, sizeof(*d));
	fs_driver_init(d, &pol, &arr);
	nlog = 0;
	atomic_store(&d->observe, observe);
	fs_event ev = { .page = 100, .kind = FS_EV_MISS };
	uint64_t cand[8];
	CHECK(fs_driver_event(d, &ev, cand, 8) == 2);
	/* 101 and 102 arrive (depth 0): each continues the chain at depth 1 */
	fs_driver_arrived(d, 101, 0, 0, 0);
	fs_driver_arrived(d, 102, 0, 0, 0);
	int n, steps = 0;
	uint32_t depth;
	uint16_t th;
	while (fs_driver_next(d, cand, 8, &n, &depth, &th)) {
		steps++;
		CHECK(depth >= 1 && depth <= 2);
		CHECK(n == 2);
		for (int k = 0; k < n; k++) /* everything predicted arrives */
			fs_driver_arrived(d, cand[k], th, depth, 0);
	}
	/* depth 1: 2 steps (from 101, 102), depth 2: 4 steps; then 8 learn-only calls */
	CHECK_EQ_U64(steps, 6);
	CHECK_EQ_U64(d->events, 1);
	CHECK_EQ_U64(d->calls, 1 + 6 + 8);
	CHECK_EQ_U64(nlog, 15);
	size_t learn = 0;
	for (size_t i = 0; i < nlog; i++) {
		if (i > 0)
			CHECK(logv[i].ev.flags & FS_EVF_ASSUMED);
		learn += logv[i].n == 0;
	}
	CHECK_EQ_U64(learn, 8);
	/* Without a chain an arrival is only learned from, at once. */
	fs_arrival flat = { .map = 1 };
	fs_driver_init(d, &pol, &flat);
	fs_driver_arrived(d, 5, 0, 0, 0);
	CHECK_EQ_U64(d->calls, 1);
	CHECK(!fs_driver_next(d, cand, 8, &n, &depth, &th));
	free(d);
}


/* A policy that predicts the 8 pages after (or before, for odd pages) a miss, and
 * nothing for a hit: what readahead does once its window is mapped on arrival. */
static int run8(fs_policy *p, const fs_event *ev, uint64_t *out, int max)
{
	if (ev->kind != FS_EV_MISS)
		return 0;
	int n = 0;
	int64_t dir = (ev->page & 1) ? -1 : 1;
	for (int64_t k = 1; k <= 8 && n < max; k++)
		out[n++] = ev->page + (uint64_t)(k * dir);
	return n;
}
static const fs_policy_ops run8_ops = { .name = "run8", .on_event = run8, .destroy = nodestroy };

static int hit(fs_driver *d, uint64_t page, uint64_t *cand)
{
	fs_event ev = { .page = page, .kind = FS_EV_HIT };
	return fs_driver_event(d, &ev, cand, FS_POLICY_MAX_CANDIDATES);
}

/* A driver over policy ops with pages mapped on arrival and streams up to
 * stream_max (0: off), and the candidates of a first miss at `page`. */
static fs_driver *stream_driver(fs_policy *pol, uint32_t stream_max, uint64_t page,
				uint64_t *cand, int *n)
{
	fs_arrival arr = { .map = 1, .stream_max = stream_max };
	fs_driver *d = calloc(1, sizeof(*d));
	fs_driver_init(d, pol, &arr);
	fs_event miss = { .page = page, .kind = FS_EV_MISS };
	*n = fs_driver_event(d, &miss, cand, FS_POLICY_MAX_CANDIDATES);
	return d;
}

TEST(streams_follow_a_run_from_its_tripwire)
{
	fs_policy pol = { &run8_ops };
	uint64_t cand[FS_POLICY_MAX_CANDIDATES];
	int n;
	fs_driver *d = stream_driver(&pol, 32, 100, cand, &n);
	CHECK(n == 8);
	fs_event miss = { .page = 100, .kind = FS_EV_MISS };
	/* the run's first page is the tripwire, the others plain */
	CHECK(cand[0] == (101 | FS_CAND_TRIPWIRE));
	for (int k = 1; k < 8; k++)
		CHECK(cand[k] == 101u + (uint64_t)k);
	CHECK(hit(d, 102, cand) == 0); /* not a tripwire: nothing */
	/* touching the tripwire issues the next run, twice as long, its own first page
	 * the next tripwire */
	CHECK(hit(d, 101, cand) == 16);
	CHECK(cand[0] == (109 | FS_CAND_TRIPWIRE));
	for (int k = 1; k < 16; k++)
		CHECK(cand[k] == 109u + (uint64_t)k);
	CHECK(hit(d, 101, cand) == 0); /* a tripwire fires once */
	CHECK(hit(d, 109, cand) == 32);
	CHECK(cand[0] == (125 | FS_CAND_TRIPWIRE) && cand[31] == 156);
	CHECK(hit(d, 125, cand) == 32); /* capped at stream_max */
	CHECK(cand[0] == (157 | FS_CAND_TRIPWIRE) && cand[31] == 188);
	CHECK_EQ_U64(d->stream_runs, 3);
	/* descending: the run below a miss on an odd page */
	miss.page = 501;
	CHECK(fs_driver_event(d, &miss, cand, FS_POLICY_MAX_CANDIDATES) == 8);
	CHECK(cand[0] == (500 | FS_CAND_TRIPWIRE) && cand[7] == 493);
	CHECK(hit(d, 500, cand) == 16);
	CHECK(cand[0] == (492 | FS_CAND_TRIPWIRE) && cand[15] == 477);
	/* a descending stream stops at page 0 */
	miss.page = 9;
	CHECK(fs_driver_event(d, &miss, cand, FS_POLICY_MAX_CANDIDATES) == 8);
	CHECK(hit(d, 8, cand) == 1 && cand[0] == 0);
	/* stream_max 0: no marks, no runs */
	fs_arrival off = { .map = 1 };
	fs_driver_init(d, &pol, &off);
	miss.page = 100;
	CHECK(fs_driver_event(d, &miss, cand, FS_POLICY_MAX_CANDIDATES) == 8);
	CHECK(cand[0] == 101);
	CHECK(hit(d, 101, cand) == 0);
	free(d);
}

/* Runs shorter than FS_STREAM_MIN and scattered candidates are not streams. */
static int scatter(fs_policy *p, const fs_event *ev, uint64_t *out, int max)
{
	static const uint64_t c[] = { 10, 11, 12, 40, 50, 51, 52, 53, 90 };
	int n = 0;
	for (size_t k = 0; k < FS_ARRAY_SIZE(c) && n < max && ev->kind == FS_EV_MISS; k++)
		out[n++] = c[k];
	return n;
}
static const fs_policy_ops scatter_ops = { .name = "scatter", .on_event = scatter, .destroy = nodestroy };

TEST(short_runs_are_not_streams)
{
	fs_policy pol = { &scatter_ops };
	uint64_t cand[FS_POLICY_MAX_CANDIDATES];
	int n;
	fs_driver *d = stream_driver(&pol, 64, 1, cand, &n);
	CHECK(n == 9);
	int marked = 0;
	for (int k = 0; k < 9; k++)
		marked += (cand[k] & FS_CAND_TRIPWIRE) != 0;
	CHECK(marked == 1 && cand[4] == (50 | FS_CAND_TRIPWIRE)); /* only 50-53 */
	CHECK(hit(d, 10, cand) == 0);
	CHECK(hit(d, 50, cand) == 8 && FS_CAND_PAGE(cand[0]) == 54 && cand[7] == 61);
	free(d);
}

int main(void)
{
	logv = calloc(LOG_MAX, sizeof(*logv));
	RUN(replay_issues_the_runtimes_candidates_readahead);
	RUN(replay_issues_the_runtimes_candidates_leap);
	RUN(replay_issues_the_runtimes_candidates_farsight);
	RUN(chains_end_at_their_depth);
	RUN(streams_follow_a_run_from_its_tripwire);
	RUN(short_runs_are_not_streams);
	free(logv);
	return TEST_EXIT();
}
