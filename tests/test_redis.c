/*
 * test_redis.c - the redis pool backend against real redis-server processes on
 * loopback (tests/helpers/redis_spawn.h): the many-threads integrity stress at a 5%
 * budget over three servers with replicas=1, with and without one server killed in the
 * middle (nothing lost, the stats show the failover); a server killed with replicas=0
 * is a clear error; a silent (stopped) server is lost after backend_timeout_ms; keys the engine dropped (a real LRU eviction, a flush) are detected
 * rather than read as zeros, and served from a replica when there is one; a full
 * server is "far memory full"; a server that may evict is refused at start; demand
 * reads see earlier writes and do not wait behind prefetches; bad specs are refused;
 * the session's keys are deleted when the backend closes.
 */
#include "testlib.h"
#include "backend/backend.h"
#include "common/util.h"
#include "helpers/backend_io.h"
#include "helpers/churn.h"
#include "helpers/redis_spawn.h"

#include <pthread.h>
#include <stdatomic.h>

#define PG FS_PAGE_SIZE

static fs_config config(const char *backend)
{
	fs_config cfg;
	char err[256];
	fs_config_from_env(&cfg, err, sizeof(err));
	snprintf(cfg.backend, sizeof(cfg.backend), "%s", backend);
	cfg.arena_size = 1ull << 30;
	cfg.arena_base = 0;
	cfg.quiet = 1;
	return cfg;
}

static void spec(char *out, size_t cap, redis_proc *s, int n, const char *opts)
{
	snprintf(out, cap, "redis://");
	for (int i = 0; i < n; i++)
		snprintf(out + strlen(out), cap - strlen(out), "%s%s", i ? "," : "", s[i].addr);
	snprintf(out + strlen(out), cap - strlen(out), "%s", opts);
}

static uint32_t timeout_ms = 10000; /* backend_timeout_ms of the next open_be */

static fs_backend *open_be(const char *backend, char *err, size_t errlen, int *rc)
{
	fs_config cfg = config(backend);
	cfg.backend_timeout_ms = timeout_ms;
	fs_backend *b = NULL;
	*rc = fs_backend_open(&cfg, &b, err, errlen);
	return b;
}

/* Start n servers (extra: their redis-server arguments, or NULL) and open a backend
 * on them with opts ("", "?replicas=1"); NULL (a failed check) if either fails. */
static fs_backend *pool(redis_proc *s, int n, const char *opts, const char *const *extra)
{
	for (int i = 0; i < n; i++)
		if (redis_start(&s[i], extra)) {
			CHECK(!"redis-server started");
			return NULL;
		}
	char be[256], err[256] = "";
	int rc;
	spec(be, sizeof(be), s, n, opts);
	fs_backend *b = open_be(be, err, sizeof(err), &rc);
	if (rc)
		fprintf(stderr, "  %s: %s\n", be, err);
	CHECK(rc == 0 && b != NULL);
	return b;
}

static void pool_close(fs_backend *b, redis_proc *s, int n)
{
	if (b)
		b->ops->close(b);
	for (int i = 0; i < n; i++)
		redis_stop(&s[i], SIGKILL);
}

static double rt_stat(fs_runtime *rt, const char *name)
{
	fs_stats s;
	fs_stats_get(rt, &s);
	for (uint32_t i = 0; i < s.n_backend_stats; i++)
		if (!strcmp(s.backend_stats[i].name, name))
			return s.backend_stats[i].value;
	return -1;
}

/* Write (or read back and compare) pages [0, n) of kind-mixed content, version v, in
 * runs of 37 pages (runs cross the 16-page groups, so they span servers). */
static int pages_io(fs_backend *b, uint64_t n, uint32_t v, int write, size_t *wrong)
{
	unsigned char *buf = malloc(n * PG);
	fs_io ios[64];
	int nio = 0, rc = 0;
	for (uint64_t p = 0; p < n; p++)
		for (size_t i = 0; i < PG / 8; i++)
			((uint64_t *)(buf + p * PG))[i] = write ? churn_value(p * 512 + i, 5, v) : 0;
	for (uint64_t p = 0; p < n && !rc; p += 37) {
		uint32_t len = (uint32_t)FS_MIN(37, n - p);
		ios[nio++] = (fs_io){ .page = p, .npages = len, .buf = buf + p * PG, .tag = p,
				      .flags = write ? FS_IO_WRITEBACK : FS_IO_PREFETCH };
		if (nio == 64 || p + 37 >= n) {
			rc = run_ios(b, ios, nio, write);
			nio = 0;
		}
	}
	if (!rc && !write && wrong) {
		*wrong = 0;
		for (uint64_t p = 0; p < n; p++)
			for (size_t i = 0; i < PG / 8; i++)
				*wrong += ((uint64_t *)(buf + p * PG))[i] != churn_value(p * 512 + i, 5, v);
	}
	free(buf);
	return rc;
}

/* ---- the integrity stress ---------------------------------------------------------- */

struct killer {
	fs_runtime *rt;
	redis_proc *victim;
	atomic_int done;
};

/* Kill the victim once the run is well under way (demand fetches flowing). */
static void *kill_midway(void *arg)
{
	struct killer *k = arg;
	for (int i = 0; i < 2000 && !atomic_load(&k->done); i++) {
		fs_stats s;
		fs_stats_get(k->rt, &s);
		if (s.demand_fetches > 3000)
			break;
		redis_sleep_ms(5);
	}
	redis_stop(k->victim, SIGKILL);
	return NULL;
}

static void stress(int kill_one)
{
	redis_proc s[3];
	for (int i = 0; i < 3; i++)
		CHECK(redis_start(&s[i], NULL) == 0);
	char be[256];
	spec(be, sizeof(be), s, 3, "?replicas=1");
	fs_config cfg = config(be);
	cfg.local_mem = 50 * PG; /* 5% of the 4 x 1 MiB the threads churn */
	cfg.prefetch = FS_PREFETCH_READAHEAD;
	fs_runtime *rt;
	char err[256];
	int rc = fs_runtime_start(&cfg, &rt, err, sizeof(err));
	if (rc) {
		fprintf(stderr, "  %s\n", err);
		CHECK(rc == 0);
		return;
	}
	struct killer k = { rt, &s[1], 0 };
	pthread_t kt;
	if (kill_one)
		pthread_create(&kt, NULL, kill_midway, &k);
	size_t bad = churn_run(rt, 4, 1u << 20, 12000);
	atomic_store(&k.done, 1);
	if (kill_one)
		pthread_join(kt, NULL);
	CHECK_EQ_U64(bad, 0);
	fs_stats st;
	fs_stats_get(rt, &st);
	CHECK(st.demand_fetches > 3000);
	CHECK(st.local_mem_peak_bytes <= st.local_mem_budget_bytes);
	if (kill_one) {
		CHECK_EQ_U64(rt_stat(rt, "servers_lost"), 1);
		CHECK(rt_stat(rt, "reads_failed_over") + rt_stat(rt, "writes_degraded") > 0);
		CHECK(rt_stat(rt, "last_loss_s") > 0);
	} else {
		CHECK_EQ_U64(rt_stat(rt, "servers_lost"), 0);
		for (int i = 0; i < 3; i++) /* every server holds pages */
			CHECK(redis_cmd(&s[i], "DBSIZE") > 100);
	}
	fs_runtime_stop(rt);
	/* The janitor deletes the session's keys once the backend is closed. */
	long long left = 1;
	for (int i = 0; i < 300 && left; i++) {
		left = 0;
		for (int j = 0; j < 3; j++)
			if (s[j].pid)
				left += redis_cmd(&s[j], "DBSIZE");
		if (left)
			redis_sleep_ms(10);
	}
	CHECK_EQ_U64(left, 0);
	for (int i = 0; i < 3; i++)
		redis_stop(&s[i], SIGTERM);
}

TEST(stress_three_servers_replicas_1) { stress(0); }
TEST(stress_with_a_server_killed_midway_loses_nothing) { stress(1); }

/* ---- losses ---------------------------------------------------------------------- */

TEST(killed_server_without_replicas_is_a_clear_error)
{
	redis_proc s[2];
	fs_backend *b = pool(s, 2, "", NULL);
	if (!b)
		return;
	CHECK(pages_io(b, 512, 1, 1, NULL) == 0);
	CHECK(redis_cmd(&s[1], "DBSIZE") > 0);
	redis_stop(&s[1], SIGKILL);
	size_t wrong = 0;
	CHECK(pages_io(b, 512, 1, 0, &wrong) == FS_EBACKEND);
	CHECK_STR_CONTAINS(b->errmsg, s[1].addr);
	CHECK_STR_CONTAINS(b->errmsg, "with replicas=0 the pages it held are gone");
	pool_close(b, s, 2);
}

/* A server that stops answering without closing its connections (SIGSTOP: a hang, a
 * partition) is lost after backend_timeout_ms: with a replica its reads fail over,
 * without one the error names it. */
TEST(silent_server_is_lost_after_the_deadline)
{
	redis_proc s[2];
	for (int i = 0; i < 2; i++)
		CHECK(redis_start(&s[i], NULL) == 0);
	char be[256], err[256];
	int rc;
	timeout_ms = 300;
	spec(be, sizeof(be), s, 2, "?replicas=1");
	fs_backend *b = open_be(be, err, sizeof(err), &rc);
	spec(be, sizeof(be), s, 2, "");
	fs_backend *b0 = open_be(be, err, sizeof(err), &rc);
	timeout_ms = 10000;
	CHECK(b != NULL && b0 != NULL);
	if (!b || !b0)
		return;
	CHECK(pages_io(b, 512, 2, 1, NULL) == 0);
	CHECK(pages_io(b0, 512, 2, 1, NULL) == 0);
	kill(s[1].pid, SIGSTOP);
	size_t wrong = 1;
	CHECK(pages_io(b, 512, 2, 0, &wrong) == 0);
	CHECK_EQ_U64(wrong, 0);
	CHECK_EQ_U64(stat_of(b, "servers_lost"), 1);
	CHECK(stat_of(b, "reads_failed_over") > 0);
	CHECK(pages_io(b0, 512, 2, 0, &wrong) == FS_EBACKEND);
	CHECK_STR_CONTAINS(b0->errmsg, s[1].addr);
	CHECK_STR_CONTAINS(b0->errmsg, "sent nothing for");
	kill(s[1].pid, SIGCONT);
	b->ops->close(b);
	b0->ops->close(b0);
	for (int i = 0; i < 2; i++)
		redis_stop(&s[i], SIGKILL);
}

TEST(eviction_by_the_engine_is_detected_not_read_as_zeros)
{
	redis_proc s;
	fs_backend *b = pool(&s, 1, "", NULL);
	if (!b)
		return;
	/* Someone reconfigures the server behind farsight's back: a 2 MiB LRU cache. */
	CHECK(redis_cmd(&s, "CONFIG SET maxmemory-policy allkeys-lru") > 0);
	CHECK(redis_cmd(&s, "CONFIG SET maxmemory 2mb") > 0);
	CHECK(pages_io(b, 2048, 1, 1, NULL) == 0); /* 8 MiB: most are evicted */
	CHECK(redis_info(&s, "evicted_keys") > 0);
	size_t wrong = 0;
	CHECK(pages_io(b, 2048, 1, 0, &wrong) == FS_EBACKEND);
	CHECK_STR_CONTAINS(b->errmsg, "is missing on every replica");
	CHECK_STR_CONTAINS(b->errmsg, "never reads a lost page as zeros");
	pool_close(b, &s, 1);
}

TEST(pages_flushed_on_one_server_come_from_the_replica)
{
	redis_proc s[2];
	fs_backend *b = pool(s, 2, "?replicas=1", NULL);
	if (!b)
		return;
	CHECK(pages_io(b, 1024, 3, 1, NULL) == 0);
	CHECK_EQ_U64(redis_cmd(&s[0], "DBSIZE"), 1024); /* two copies of every page */
	CHECK_EQ_U64(redis_cmd(&s[1], "DBSIZE"), 1024);
	CHECK(redis_cmd(&s[0], "FLUSHALL") > 0);
	size_t wrong = 1;
	CHECK(pages_io(b, 1024, 3, 0, &wrong) == 0);
	CHECK_EQ_U64(wrong, 0);
	CHECK(stat_of(b, "reads_from_replica") > 0);
	/* Flushed on both: missing on every replica, an error. */
	CHECK(redis_cmd(&s[1], "FLUSHALL") > 0);
	CHECK(pages_io(b, 64, 3, 0, &wrong) == FS_EBACKEND);
	CHECK_STR_CONTAINS(b->errmsg, "is missing on every replica");
	pool_close(b, s, 2);
}

TEST(full_server_is_far_memory_full)
{
	redis_proc s;
	const char *const small[] = { "--maxmemory", "3mb", NULL };
	fs_backend *b = pool(&s, 1, "", small);
	if (!b)
		return;
	CHECK(pages_io(b, 2048, 1, 1, NULL) == FS_EFULL);
	CHECK_STR_CONTAINS(b->errmsg, "far memory full");
	CHECK_STR_CONTAINS(b->errmsg, s.addr);
	pool_close(b, &s, 1);
}

TEST(a_server_that_may_evict_is_refused_at_start)
{
	redis_proc s;
	const char *const lru[] = { "--maxmemory-policy", "allkeys-lru", NULL };
	CHECK(redis_start(&s, lru) == 0);
	char be[256], err[256] = "";
	int rc;
	spec(be, sizeof(be), &s, 1, "");
	fs_backend *b = open_be(be, err, sizeof(err), &rc);
	CHECK(b == NULL);
	CHECK(rc == FS_EINVAL);
	CHECK_STR_CONTAINS(err, "maxmemory-policy allkeys-lru");
	CHECK_STR_CONTAINS(err, "noeviction");
	redis_stop(&s, SIGTERM);
	/* Nobody listening: a sentence that says how to start one. */
	b = open_be(be, err, sizeof(err), &rc);
	CHECK(rc == FS_EBACKEND);
	CHECK_STR_CONTAINS(err, "cannot connect to");
	CHECK_STR_CONTAINS(err, "--maxmemory-policy noeviction");
}

/* ---- ordering -------------------------------------------------------------------- */

TEST(demand_read_sees_the_write_before_it)
{
	redis_proc s[2];
	fs_backend *b = pool(s, 2, "?replicas=1", NULL);
	if (!b)
		return;
	unsigned char *w = malloc(8 * PG), *r = malloc(8 * PG);
	size_t stale = 0;
	for (uint32_t v = 1; v <= 200; v++) {
		for (size_t i = 0; i < 8 * PG / 8; i++)
			((uint64_t *)w)[i] = churn_value(i, 9, v);
		fs_io wio = { .page = 100, .npages = 8, .flags = FS_IO_WRITEBACK, .buf = w, .tag = 1 };
		fs_io rio = { .page = 100 + v % 8, .npages = 1, .flags = FS_IO_DEMAND, .buf = r, .tag = 2 };
		CHECK(b->ops->submit_write(b, &wio, 1) == 1);
		CHECK(b->ops->submit_read(b, &rio, 1) == 1); /* the write is still in flight */
		fs_io_done d[4];
		while (b->ops->inflight(b))
			CHECK(b->ops->poll(b, d, 4, -1) >= 0);
		stale += memcmp(r, w + (v % 8) * PG, PG) != 0;
	}
	CHECK_EQ_U64(stale, 0);
	free(w);
	free(r);
	pool_close(b, s, 2);
}

TEST(demand_read_does_not_wait_behind_prefetches)
{
	redis_proc s;
	fs_backend *b = pool(&s, 1, "", NULL);
	if (!b)
		return;
	enum { RUNS = 48 }; /* 48 MiB of prefetches in flight */
	CHECK(pages_io(b, RUNS * 256 + 1, 1, 1, NULL) == 0);
	unsigned char *buf = malloc((RUNS * 256 + 1) * (size_t)PG);
	fs_io ios[RUNS];
	for (int i = 0; i < RUNS; i++)
		ios[i] = (fs_io){ .page = (uint64_t)i * 256, .npages = 256, .flags = FS_IO_PREFETCH,
				  .buf = buf + (size_t)i * 256 * PG, .tag = (uint64_t)i };
	CHECK(b->ops->submit_read(b, ios, RUNS) == RUNS);
	fs_io dio = { .page = RUNS * 256, .npages = 1, .flags = FS_IO_DEMAND,
		      .buf = buf + (size_t)RUNS * 256 * PG, .tag = 1000 };
	CHECK(b->ops->submit_read(b, &dio, 1) == 1);
	int seen = 0, demand_at = -1;
	fs_io_done d[64];
	while (b->ops->inflight(b)) {
		int got = b->ops->poll(b, d, 64, -1);
		CHECK(got >= 0);
		if (got < 0)
			break;
		for (int i = 0; i < got; i++, seen++)
			if (d[i].tag == 1000)
				demand_at = seen;
	}
	/* Redis answers the demand connection between slices of the bulk replies. */
	fprintf(stderr, "  demand read completed as %d of %d\n", demand_at + 1, RUNS + 1);
	CHECK(demand_at >= 0 && demand_at < RUNS / 2);
	free(buf);
	pool_close(b, &s, 1);
}

TEST(bad_specs_are_refused)
{
	char err[256];
	CHECK(fs_backend_check("redis://", err, sizeof(err)) == FS_EINVAL);
	CHECK_STR_CONTAINS(err, "names no server");
	CHECK(fs_backend_check("redis://a:1,a:1", err, sizeof(err)) == FS_EINVAL);
	CHECK_STR_CONTAINS(err, "listed twice");
	CHECK(fs_backend_check("redis://a:1?replicas=1", err, sizeof(err)) == FS_EINVAL);
	CHECK_STR_CONTAINS(err, "replicas=1 needs at least 2 servers");
	CHECK(fs_backend_check("redis://a:1,b:2?copies=2", err, sizeof(err)) == FS_EINVAL);
	CHECK_STR_CONTAINS(err, "?replicas=N");
	CHECK(fs_backend_check("redis://a:99999", err, sizeof(err)) == FS_EINVAL);
	CHECK_STR_CONTAINS(err, "'a:99999' is not HOST:PORT");
	CHECK(fs_backend_check("redis://a:1,b:2?replicas=1", err, sizeof(err)) == 0);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	RUN(bad_specs_are_refused);
	RUN(a_server_that_may_evict_is_refused_at_start);
	RUN(demand_read_sees_the_write_before_it);
	RUN(demand_read_does_not_wait_behind_prefetches);
	RUN(killed_server_without_replicas_is_a_clear_error);
	RUN(silent_server_is_lost_after_the_deadline);
	RUN(eviction_by_the_engine_is_detected_not_read_as_zeros);
	RUN(pages_flushed_on_one_server_come_from_the_replica);
	RUN(full_server_is_far_memory_full);
	RUN(stress_three_servers_replicas_1);
	RUN(stress_with_a_server_killed_midway_loses_nothing);
	return TEST_EXIT();
}
