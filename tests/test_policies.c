/*
 * test_policies.c - the baseline prefetch policies (readahead, hermit, leap, oracle)
 * fed synthetic event streams with known answers: each check says exactly which pages
 * a policy must ask for after an event.
 */
#include "testlib.h"

#include "farsight.h"
#include "prefetch/policy.h"

#include <stdint.h>
#include <unistd.h>

/* An error buffer as a plain pointer (CHECK_STR_CONTAINS tests its argument for NULL). */
static const char *msg(const char *s) { return s; }

static fs_config base_cfg(void)
{
	fs_config cfg;
	char err[256];
	if (fs_config_from_env(&cfg, err, sizeof(err)) != FS_OK) {
		fprintf(stderr, "fs_config_from_env: %s\n", err);
		exit(1);
	}
	cfg.readahead_max = 8;
	cfg.lookahead = 8;
	cfg.trace[0] = 0;
	return cfg;
}

static fs_policy *make(const char *name, const fs_config *cfg0)
{
	fs_config cfg = cfg0 ? *cfg0 : base_cfg();
	fs_policy *p = NULL;
	char err[512] = "";
	int rc = fs_config_set(&cfg, "prefetch", name, err, sizeof(err));
	if (rc == FS_OK)
		rc = fs_policy_create(&cfg, &p, err, sizeof(err));
	if (rc != FS_OK) {
		fprintf(stderr, "  cannot create %s: %s\n", name, err);
		return NULL;
	}
	return p;
}

static int feed(fs_policy *p, uint64_t page, uint16_t thread, int kind, uint64_t *out)
{
	fs_event ev = {.page = page, .thread = thread, .kind = (uint8_t)kind};
	return p->ops->on_event(p, &ev, out, FS_POLICY_MAX_CANDIDATES);
}

/* out[0..n) must equal the listed pages, in order. */
#define CHECK_PAGES(out, n, ...)                                                         \
	do {                                                                             \
		const uint64_t want_[] = {__VA_ARGS__};                                  \
		size_t nw_ = sizeof(want_) / sizeof(want_[0]);                           \
		CHECK_EQ_U64((n), nw_);                                                  \
		for (size_t i_ = 0; i_ < nw_ && (int)i_ < (n); i_++)                     \
			CHECK_EQ_U64((out)[i_], want_[i_]);                              \
	} while (0)

/* out[0..n) must be page + d, page + 2d, ..., count pages. */
static int along(const uint64_t *out, int n, uint64_t page, int64_t d, int count)
{
	if (n != count)
		return 0;
	for (int i = 0; i < n; i++)
		if (out[i] != page + (uint64_t)((int64_t)(i + 1) * d))
			return 0;
	return 1;
}

static uint64_t rng_state = 88172645463325252ull;
static uint64_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

/* ---- registry ----------------------------------------------------------------- */

TEST(registry_knows_every_baseline)
{
	const char *names[] = {"none", "readahead", "leap", "hermit", "oracle"};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		const fs_policy_ops *ops = fs_policy_find(names[i]);
		CHECK(ops != NULL);
		if (ops)
			CHECK(!strcmp(ops->name, names[i]));
	}
	fs_config cfg = base_cfg();
	fs_policy *p = NULL;
	char err[512] = "";
	/* the settings table names the value and every prefetcher */
	CHECK_EQ_U64(fs_config_set(&cfg, "prefetch", "bogus", err, sizeof(err)), (uint64_t)FS_EINVAL);
	CHECK_STR_CONTAINS(msg(err), "'bogus' is not one of none, readahead, leap, hermit, oracle or farsight");
	/* a configuration filled by hand with a value that is no policy */
	cfg.prefetch = FS_PREFETCH_COUNT;
	CHECK_EQ_U64(fs_policy_create(&cfg, &p, err, sizeof(err)), (uint64_t)FS_EINVAL);
	CHECK_STR_CONTAINS(msg(err), "is not a prefetcher");
	/* the registry's order is the setting's */
	for (uint32_t k = 0; k < FS_PREFETCH_COUNT; k++)
		CHECK(!strcmp(fs_policy_get(k)->name, fs_setting_value_name("prefetch", k)));
}

/* ---- readahead ---------------------------------------------------------------- */

TEST(readahead_window_grows_with_hits_and_shrinks_by_half)
{
	fs_policy *p = make("readahead", NULL);
	if (!p)
		return;
	uint64_t out[FS_POLICY_MAX_CANDIDATES];
	int n;
	n = feed(p, 1000, 0, FS_EV_MISS, out); /* no hits, not adjacent: window 1 */
	CHECK_EQ_U64(n, 0);
	n = feed(p, 1001, 0, FS_EV_MISS, out); /* adjacent: window 2, aligned [1000,1001] */
	CHECK_PAGES(out, n, 1000);
	for (int i = 0; i < 3; i++) /* hits only count; nothing issued */
		CHECK_EQ_U64(feed(p, 1000 + (uint64_t)i, 0, FS_EV_HIT, out), 0);
	n = feed(p, 2000, 0, FS_EV_MISS, out); /* 3 hits: 3+2 -> 8 pages */
	CHECK_PAGES(out, n, 2001, 2002, 2003, 2004, 2005, 2006, 2007);
	n = feed(p, 5000, 0, FS_EV_MISS, out); /* would be 1, shrinks only to 8/2 = 4 */
	CHECK_PAGES(out, n, 5001, 5002, 5003);
	n = feed(p, 9002, 0, FS_EV_MISS, out); /* 4/2 = 2: aligned [9002,9003] */
	CHECK_PAGES(out, n, 9003);
	n = feed(p, 13000, 0, FS_EV_MISS, out); /* 2/2 = 1 */
	CHECK_EQ_U64(n, 0);
	feed(p, 1, 0, FS_EV_HIT, out);
	n = feed(p, 20005, 0, FS_EV_MISS, out); /* 1 hit: 3 -> 4, aligned [20004,20007] */
	CHECK_PAGES(out, n, 20004, 20006, 20007);
	for (int i = 0; i < 40; i++)
		feed(p, 1, 0, FS_EV_HIT, out);
	n = feed(p, 30000, 0, FS_EV_MISS, out); /* capped at readahead_max = 8 */
	CHECK_EQ_U64(n, 7);
	p->ops->destroy(p);

	fs_config cfg = base_cfg();
	cfg.readahead_max = 4;
	p = make("readahead", &cfg);
	if (!p)
		return;
	for (int i = 0; i < 40; i++)
		feed(p, 1, 0, FS_EV_HIT, out);
	n = feed(p, 30001, 0, FS_EV_MISS, out);
	CHECK_PAGES(out, n, 30000, 30002, 30003);
	p->ops->destroy(p);
}

/* Pages mapped on arrival arrive as assumed hits: they widen a later window only when a
 * miss lands within a window's length of the window that brought them (the program is
 * at it or went on past it); elsewhere they are dropped. */
TEST(readahead_counts_assumed_hits_only_near_their_window)
{
	fs_policy *p = make("readahead", NULL);
	if (!p)
		return;
	uint64_t out[FS_POLICY_MAX_CANDIDATES];
	fs_event hit = {.kind = FS_EV_HIT, .flags = FS_EVF_ASSUMED};
	int n;
	feed(p, 1000, 0, FS_EV_MISS, out);
	n = feed(p, 1001, 0, FS_EV_MISS, out); /* window 2: [1000,1001], ends at 1002 */
	CHECK_PAGES(out, n, 1000);
	hit.page = 1000;
	CHECK_EQ_U64(p->ops->on_event(p, &hit, out, FS_POLICY_MAX_CANDIDATES), 0);
	n = feed(p, 1002, 0, FS_EV_MISS, out); /* right after it: 1 hit, 3 -> 4 pages */
	CHECK_PAGES(out, n, 1000, 1001, 1003);
	for (int i = 0; i < 3; i++) { /* [1000,1003] arrives mapped */
		hit.page = 1000 + (uint64_t)i;
		p->ops->on_event(p, &hit, out, FS_POLICY_MAX_CANDIDATES);
	}
	n = feed(p, 1004, 0, FS_EV_MISS, out); /* through it again: 3 hits -> 8 pages */
	CHECK_PAGES(out, n, 1000, 1001, 1002, 1003, 1005, 1006, 1007);
	for (int i = 0; i < 7; i++) { /* mapped, but the program goes elsewhere */
		hit.page = 1000 + (uint64_t)i;
		p->ops->on_event(p, &hit, out, FS_POLICY_MAX_CANDIDATES);
	}
	n = feed(p, 7777, 0, FS_EV_MISS, out); /* dropped: 8 shrinks to 4, not grows */
	CHECK_PAGES(out, n, 7776, 7778, 7779);
	n = feed(p, 9001, 0, FS_EV_MISS, out); /* no hits: 2 */
	CHECK_PAGES(out, n, 9000);
	p->ops->destroy(p);

	/* Two scans interleaved in one thread (arrays read side by side): each window
	 * gets its own credit when the program reaches its end. */
	fs_config cfg = base_cfg();
	cfg.readahead_max = 16;
	p = make("readahead", &cfg);
	if (!p)
		return;
	for (int i = 0; i < 3; i++)
		feed(p, 1, 0, FS_EV_HIT, out);
	CHECK_EQ_U64(feed(p, 2000, 0, FS_EV_MISS, out), 7); /* [2000,2007] */
	for (int i = 0; i < 3; i++)
		feed(p, 1, 0, FS_EV_HIT, out);
	CHECK_EQ_U64(feed(p, 5000, 0, FS_EV_MISS, out), 7); /* [5000,5007] */
	for (int i = 1; i < 8; i++) {
		hit.page = 2000 + (uint64_t)i;
		p->ops->on_event(p, &hit, out, FS_POLICY_MAX_CANDIDATES);
		hit.page = 5000 + (uint64_t)i;
		p->ops->on_event(p, &hit, out, FS_POLICY_MAX_CANDIDATES);
	}
	n = feed(p, 2008, 0, FS_EV_MISS, out); /* 7 hits of [2000,2007]: 9 -> 16 pages */
	CHECK_EQ_U64(n, 15);
	CHECK_EQ_U64(out[0], 2000);
	n = feed(p, 5008, 0, FS_EV_MISS, out); /* and the other scan's 7: 16 */
	CHECK_EQ_U64(n, 15);
	CHECK_EQ_U64(out[0], 5009);
	p->ops->destroy(p);
}

TEST(readahead_keeps_state_per_thread)
{
	fs_policy *p = make("readahead", NULL);
	if (!p)
		return;
	uint64_t out[FS_POLICY_MAX_CANDIDATES];
	feed(p, 100, 0, FS_EV_MISS, out);
	feed(p, 700, 1, FS_EV_MISS, out);
	/* thread 0's next miss is adjacent to its own previous one, not to thread 1's */
	int n = feed(p, 101, 0, FS_EV_MISS, out);
	CHECK_PAGES(out, n, 100);
	p->ops->destroy(p);
}

TEST(hermit_prefetches_exactly_like_readahead)
{
	fs_policy *h = make("hermit", NULL), *r = make("readahead", NULL);
	CHECK(h && r);
	if (!h || !r)
		return;
	CHECK(!strcmp(h->ops->name, "hermit"));
	CHECK(h->ops == fs_policy_find("hermit"));
	uint64_t a[FS_POLICY_MAX_CANDIDATES], b[FS_POLICY_MAX_CANDIDATES];
	int same = 1;
	for (int i = 0; i < 2000; i++) {
		uint64_t pg = rnd() % 64 < 40 ? 5000 + (uint64_t)i : rnd() % 100000;
		int kind = rnd() % 3 == 0 ? FS_EV_HIT : FS_EV_MISS;
		uint16_t th = (uint16_t)(rnd() % 3);
		int na = feed(h, pg, th, kind, a), nb = feed(r, pg, th, kind, b);
		if (na != nb || memcmp(a, b, (size_t)na * sizeof(*a)))
			same = 0;
	}
	CHECK(same);
	h->ops->destroy(h);
	r->ops->destroy(r);
}

/* ---- leap --------------------------------------------------------------------- */

TEST(leap_sequential_stream)
{
	fs_policy *p = make("leap", NULL);
	if (!p)
		return;
	uint64_t out[FS_POLICY_MAX_CANDIDATES];
	int n;
	/* Until five deltas agree (more than half of the window of 8), Leap is readahead. */
	n = feed(p, 100, 0, FS_EV_MISS, out); /* window 1 */
	CHECK_EQ_U64(n, 0);
	n = feed(p, 101, 0, FS_EV_MISS, out); /* adjacent: aligned [100,101] */
	CHECK_PAGES(out, n, 100);
	n = feed(p, 102, 0, FS_EV_MISS, out);
	CHECK_PAGES(out, n, 103);
	n = feed(p, 103, 0, FS_EV_MISS, out);
	CHECK_PAGES(out, n, 102);
	n = feed(p, 104, 0, FS_EV_MISS, out);
	CHECK_PAGES(out, n, 105);
	n = feed(p, 105, 0, FS_EV_MISS, out); /* 5 deltas of +1: trend, window 2 */
	CHECK_PAGES(out, n, 106);
	n = feed(p, 106, 0, FS_EV_HIT, out); /* 1 hit: window 4 */
	CHECK_PAGES(out, n, 107, 108, 109);
	n = feed(p, 107, 0, FS_EV_HIT, out); /* 2 hits: still 4 */
	CHECK_PAGES(out, n, 108, 109, 110);
	n = feed(p, 108, 0, FS_EV_HIT, out); /* 3 hits: 8 */
	CHECK_PAGES(out, n, 109, 110, 111, 112, 113, 114, 115);
	n = feed(p, 109, 0, FS_EV_HIT, out);
	CHECK(along(out, n, 109, 1, 7));
	/* A jump: the trend (7 of the last 8 deltas) carries on from the new page, with
	 * the window the 4 hits earned. */
	n = feed(p, 200, 0, FS_EV_MISS, out);
	CHECK(along(out, n, 200, 1, 7));
	p->ops->destroy(p);
}

TEST(leap_strided_stream_where_readahead_gives_nothing)
{
	fs_policy *p = make("leap", NULL), *ra = make("readahead", NULL);
	if (!p || !ra)
		return;
	uint64_t out[FS_POLICY_MAX_CANDIDATES];
	int n;
	for (uint64_t pg = 1000; pg < 1015; pg += 3) /* not adjacent, no trend yet */
		CHECK_EQ_U64(feed(p, pg, 0, FS_EV_MISS, out), 0);
	n = feed(p, 1015, 0, FS_EV_MISS, out); /* trend +3, no hits: one page along it */
	CHECK_PAGES(out, n, 1018);
	n = feed(p, 1018, 0, FS_EV_HIT, out);
	CHECK_PAGES(out, n, 1021, 1024, 1027);
	n = feed(p, 1021, 0, FS_EV_HIT, out);
	CHECK_PAGES(out, n, 1024, 1027, 1030);
	n = feed(p, 1024, 0, FS_EV_HIT, out);
	CHECK_PAGES(out, n, 1027, 1030, 1033, 1036, 1039, 1042, 1045);
	/* Linux readahead on the same misses: never adjacent, never a hit, never a page. */
	int total = 0;
	for (uint64_t pg = 1000; pg < 1100; pg += 3)
		total += feed(ra, pg, 0, FS_EV_MISS, out);
	CHECK_EQ_U64(total, 0);
	p->ops->destroy(p);
	ra->ops->destroy(ra);
}

TEST(leap_descending_stride_stops_at_page_zero)
{
	fs_policy *p = make("leap", NULL);
	if (!p)
		return;
	uint64_t out[FS_POLICY_MAX_CANDIDATES];
	for (uint64_t pg = 60; pg > 10; pg -= 10)
		feed(p, pg, 0, FS_EV_MISS, out);
	int n = feed(p, 10, 0, FS_EV_MISS, out); /* trend -10 */
	CHECK_PAGES(out, n, 0);
	n = feed(p, 0, 0, FS_EV_HIT, out); /* window 4 would go below 0: nothing */
	CHECK_EQ_U64(n, 0);
	p->ops->destroy(p);
}

TEST(leap_interleaved_threads_keep_their_own_trends)
{
	fs_policy *p = make("leap", NULL);
	if (!p)
		return;
	uint64_t out[FS_POLICY_MAX_CANDIDATES];
	int ok0 = 1, ok1 = 1;
	for (int i = 0; i < 40; i++) {
		uint64_t a = 1000 + (uint64_t)i, b = 50000 + 3 * (uint64_t)i;
		int n = feed(p, a, 0, FS_EV_MISS, out);
		if (i >= 5 && !along(out, n, a, 1, 1)) /* adjacent misses: window 2 */
			ok0 = 0;
		n = feed(p, b, 1, FS_EV_MISS, out);
		if (i >= 5 && !along(out, n, b, 3, 1)) /* trend, no hits: window 2 */
			ok1 = 0;
	}
	CHECK(ok0);
	CHECK(ok1);
	/* The same stream as one thread alternates two deltas: no majority anywhere, so
	 * Leap is exactly readahead (which finds nothing in it). */
	fs_policy *q = make("leap", NULL);
	if (!q)
		return;
	int total = 0;
	for (int i = 0; i < 40; i++) {
		total += feed(q, 1000 + (uint64_t)i, 0, FS_EV_MISS, out);
		total += feed(q, 50000 + 3 * (uint64_t)i, 0, FS_EV_MISS, out);
	}
	CHECK_EQ_U64(total, 0);
	p->ops->destroy(p);
	q->ops->destroy(q);
}

TEST(leap_majority_finds_the_dominant_stride_in_one_thread)
{
	/* One thread walks array A with stride +2 and, every fifth access, array B: per
	 * six deltas four are +2, two are jumps.  A window of 8 may hold only four +2
	 * (no strict majority) but then the window of 16 holds at least ten. */
	fs_policy *p = make("leap", NULL);
	if (!p)
		return;
	uint64_t out[FS_POLICY_MAX_CANDIDATES];
	uint64_t a = 10000, b = 900000;
	int checked = 0, ok = 1;
	for (int i = 0; i < 300; i++) {
		int n;
		if (i % 6 == 5) {
			n = feed(p, b, 0, FS_EV_MISS, out);
			b += 7;
		} else {
			n = feed(p, a, 0, FS_EV_MISS, out);
			if (i >= 24) {
				checked++;
				if (!along(out, n, a, 2, 1))
					ok = 0;
			}
			a += 2;
		}
	}
	CHECK(ok);
	CHECK(checked > 200);
	p->ops->destroy(p);
}

TEST(leap_random_stream_falls_back_to_readahead)
{
	/* Pointer chasing: pairs of adjacent pages at random places.  Half the deltas are
	 * +1, which is never a strict majority, so every answer must be readahead's. */
	fs_policy *p = make("leap", NULL), *ra = make("readahead", NULL);
	if (!p || !ra)
		return;
	uint64_t a[FS_POLICY_MAX_CANDIDATES], b[FS_POLICY_MAX_CANDIDATES];
	int same = 1, nonempty = 0;
	for (int i = 0; i < 500; i++) {
		uint64_t pg = (rnd() % (1ull << 30)) * 2;
		for (int k = 0; k < 2; k++) {
			int na = feed(p, pg + (uint64_t)k, 0, FS_EV_MISS, a);
			int nb = feed(ra, pg + (uint64_t)k, 0, FS_EV_MISS, b);
			if (na != nb || memcmp(a, b, (size_t)na * sizeof(*a)))
				same = 0;
			nonempty += na > 0;
		}
	}
	CHECK(same);
	CHECK(nonempty >= 400); /* readahead's [pg, pg+1] cluster on the adjacent miss */
	p->ops->destroy(p);
	ra->ops->destroy(ra);
}

TEST(leap_phase_change_switches_trend_after_a_window_of_new_deltas)
{
	fs_policy *p = make("leap", NULL);
	if (!p)
		return;
	uint64_t out[FS_POLICY_MAX_CANDIDATES];
	for (uint64_t pg = 1000; pg < 1040; pg++)
		feed(p, pg, 0, FS_EV_MISS, out);
	/* Phase 2: stride +5 far away.  After k events the window of 8 holds the jump,
	 * k-1 deltas of +5 and 8-k of +1: +1 keeps the majority (in 8, then in 16) up to
	 * k = 5, and +5 takes it at k = 6 (five of eight). */
	for (int k = 1; k <= 12; k++) {
		uint64_t pg = 9000 + 5 * (uint64_t)(k - 1);
		int n = feed(p, pg, 0, FS_EV_MISS, out);
		if (k <= 5)
			CHECK(along(out, n, pg, 1, 1));
		else
			CHECK(along(out, n, pg, 5, 1));
	}
	p->ops->destroy(p);
}

/* ---- oracle ------------------------------------------------------------------- */

static char trace_path[64];

static int write_trace(const char *path, const uint64_t *pages, size_t n, uint64_t hash)
{
	fs_trace_info info = {0};
	info.command_hash = hash;
	snprintf(info.command, sizeof(info.command), "./prog --input x");
	snprintf(info.prefetch, sizeof(info.prefetch), "none");
	fs_trace_writer *w;
	int rc = fs_trace_create(path, &info, &w);
	if (rc)
		return rc;
	for (size_t i = 0; i < n; i++) {
		fs_event ev = {.page = pages[i], .time_ns = i * 1000, .thread = 0};
		if ((rc = fs_trace_append(w, &ev)))
			return rc;
	}
	return fs_trace_close(w);
}

static fs_policy *make_oracle(const char *path, uint32_t lookahead, int *rc, char *err,
			      size_t errlen)
{
	fs_config cfg = base_cfg();
	cfg.prefetch = FS_PREFETCH_ORACLE;
	snprintf(cfg.trace, sizeof(cfg.trace), "%s", path);
	cfg.lookahead = lookahead;
	fs_policy *p = NULL;
	err[0] = 0;
	*rc = fs_policy_create(&cfg, &p, err, errlen);
	return *rc == FS_OK ? p : NULL;
}

/* Distinct pages of rec[from, from + L), other than page. */
static int expected_next(const uint64_t *rec, size_t n, size_t from, uint32_t L,
			 uint64_t page, uint64_t *out)
{
	int k = 0;
	for (size_t i = from; i < n && i < from + L; i++) {
		int dup = rec[i] == page;
		for (int j = 0; j < k; j++)
			dup |= out[j] == rec[i];
		if (!dup)
			out[k++] = rec[i];
	}
	return k;
}

#define REC_N 3000
static uint64_t rec[REC_N];

static void make_recording(void)
{
	/* Pointer chasing over 1000 pages: random, with repeats. */
	for (size_t i = 0; i < REC_N; i++)
		rec[i] = 4096 + rnd() % 1000;
}

TEST(oracle_replays_pointer_chasing_exactly)
{
	make_recording();
	CHECK_EQ_U64(write_trace(trace_path, rec, REC_N, 0), FS_OK);
	int rc;
	char err[1024];
	fs_policy *p = make_oracle(trace_path, 6, &rc, err, sizeof(err));
	CHECK_EQ_U64(rc, FS_OK);
	if (!p) {
		fprintf(stderr, "  %s\n", err);
		return;
	}
	uint64_t out[FS_POLICY_MAX_CANDIDATES], want[16];
	int ok = 1;
	for (size_t i = 0; i < REC_N; i++) {
		int n = feed(p, rec[i], 0, i % 2 ? FS_EV_HIT : FS_EV_MISS, out);
		int nw = expected_next(rec, REC_N, i + 1, 6, rec[i], want);
		if (n != nw || memcmp(out, want, (size_t)n * sizeof(*out)))
			ok = 0;
	}
	CHECK(ok);
	CHECK(p->ops->status != NULL);
	CHECK_EQ_U64(p->ops->status(p, err, sizeof(err)), FS_OK);
	p->ops->destroy(p);

	/* Leap finds no trend in it and falls back to readahead, which finds nothing. */
	fs_policy *l = make("leap", NULL);
	int total = 0;
	for (size_t i = 0; l && i < REC_N; i++)
		total += feed(l, rec[i] * 2, 0, FS_EV_MISS, out); /* *2: never adjacent */
	CHECK_EQ_U64(total, 0);
	if (l)
		l->ops->destroy(l);
}

TEST(oracle_resynchronises_when_the_live_stream_diverges)
{
	make_recording();
	CHECK_EQ_U64(write_trace(trace_path, rec, REC_N, 0), FS_OK);
	int rc;
	char err[1024];
	fs_policy *p = make_oracle(trace_path, 4, &rc, err, sizeof(err));
	if (!p) {
		fprintf(stderr, "  %s\n", err);
		CHECK(0);
		return;
	}
	uint64_t out[FS_POLICY_MAX_CANDIDATES], want[16];
	int n, nw;
	for (size_t i = 0; i < 10; i++)
		feed(p, rec[i], 0, FS_EV_MISS, out);
	/* An event the recording does not have (a page reclaimed only in this run): the
	 * cursor stays, and the oracle still asks for what the recording says is next. */
	n = feed(p, 777777, 0, FS_EV_MISS, out);
	nw = expected_next(rec, REC_N, 10, 4, 777777, want);
	CHECK(n == nw && !memcmp(out, want, (size_t)n * sizeof(*out)));
	/* Recorded events 10..19 seen, 20..24 never happen live (pages that stayed local
	 * this time), then 25: the cursor skips ahead to it. */
	for (size_t i = 10; i < 20; i++)
		feed(p, rec[i], 0, FS_EV_MISS, out);
	/* rec[25] may also occur between 20 and 24; the oracle takes the first one, as a
	 * replay must.  Find that position. */
	size_t at = 20;
	while (rec[at] != rec[25])
		at++;
	n = feed(p, rec[25], 0, FS_EV_MISS, out);
	nw = expected_next(rec, REC_N, at + 1, 4, rec[25], want);
	CHECK(n == nw && !memcmp(out, want, (size_t)n * sizeof(*out)));
	for (size_t i = 26; i < REC_N; i++)
		feed(p, rec[i], 0, FS_EV_MISS, out);
	CHECK_EQ_U64(p->ops->status(p, err, sizeof(err)), FS_OK);
	p->ops->destroy(p);
}

TEST(oracle_reports_a_mismatched_trace)
{
	make_recording();
	CHECK_EQ_U64(write_trace(trace_path, rec, REC_N, 0), FS_OK);
	int rc;
	char err[1024];
	fs_policy *p = make_oracle(trace_path, 4, &rc, err, sizeof(err));
	if (!p) {
		CHECK(0);
		return;
	}
	uint64_t out[FS_POLICY_MAX_CANDIDATES];
	/* Another program: pages the recording never saw.  Until more than 500 of the
	 * first 1000 are unmatched the oracle keeps guessing from its cursor; then it
	 * stops prefetching and says why. */
	int n_before = 0, n_after = 0;
	for (int i = 0; i < 1200; i++) {
		int n = feed(p, 1000000 + (uint64_t)i, 0, FS_EV_MISS, out);
		if (i < 500)
			n_before += n > 0;
		else
			n_after += n;
	}
	CHECK_EQ_U64(n_before, 500);
	CHECK_EQ_U64(n_after, 0);
	CHECK_EQ_U64(p->ops->status(p, err, sizeof(err)), (uint64_t)FS_EINVAL);
	CHECK_STR_CONTAINS(msg(err), "does not follow");
	CHECK_STR_CONTAINS(msg(err), trace_path);
	p->ops->destroy(p);

	/* A short run that matches nothing is reported at exit too. */
	p = make_oracle(trace_path, 4, &rc, err, sizeof(err));
	if (!p)
		return;
	for (int i = 0; i < 100; i++)
		feed(p, 2000000 + (uint64_t)i, 0, FS_EV_MISS, out);
	CHECK_EQ_U64(p->ops->status(p, err, sizeof(err)), (uint64_t)FS_EINVAL);
	p->ops->destroy(p);
}

TEST(oracle_stays_idle_in_another_program)
{
	make_recording();
	CHECK_EQ_U64(write_trace(trace_path, rec, 100, 0x1234abcdull), FS_OK);
	int rc;
	char err[1024];
	uint64_t out[64];
	/* A process that is not the recorded program (a wrapper that execs it): the
	 * policy is created, prefetches nothing, and says why. */
	fs_policy_live_command_hash = 0x99;
	fs_policy *p = make_oracle(trace_path, 4, &rc, err, sizeof(err));
	CHECK_EQ_U64(rc, FS_OK);
	if (p) {
		CHECK_EQ_U64((uint64_t)p->ops->on_event(p, &(fs_event){ .page = rec[0] }, out, 64), 0);
		CHECK_EQ_U64(p->ops->status(p, err, sizeof(err)), (uint64_t)FS_EINVAL);
		CHECK_STR_CONTAINS(msg(err), "not from this program");
		CHECK_STR_CONTAINS(msg(err), "./prog --input x");
		p->ops->destroy(p);
	}
	/* The recorded program itself replays. */
	fs_policy_live_command_hash = 0x1234abcd;
	p = make_oracle(trace_path, 4, &rc, err, sizeof(err));
	CHECK_EQ_U64(rc, FS_OK);
	if (p) {
		CHECK(p->ops->on_event(p, &(fs_event){ .page = rec[0] }, out, 64) > 0);
		p->ops->destroy(p);
	}
	fs_policy_live_command_hash = 0; /* replay: not checked */
	p = make_oracle(trace_path, 4, &rc, err, sizeof(err));
	CHECK_EQ_U64(rc, FS_OK);
	if (p)
		p->ops->destroy(p);
}

TEST(oracle_refuses_a_missing_or_damaged_trace)
{
	int rc;
	char err[1024];
	fs_policy *p = make_oracle("", 4, &rc, err, sizeof(err));
	CHECK(p == NULL);
	CHECK_EQ_U64(rc, (uint64_t)FS_EINVAL);
	CHECK_STR_CONTAINS(msg(err), "--record");

	p = make_oracle("/nonexistent/farsight.trace", 4, &rc, err, sizeof(err));
	CHECK(p == NULL);
	CHECK_EQ_U64(rc, (uint64_t)FS_EIO);
	CHECK_STR_CONTAINS(msg(err), "/nonexistent/farsight.trace");

	make_recording();
	CHECK_EQ_U64(write_trace(trace_path, rec, 500, 0), FS_OK);
	/* Truncated: a recording that crashed loses its trailer. */
	FILE *f = fopen(trace_path, "r+b");
	CHECK(f != NULL);
	if (!f)
		return;
	fseek(f, 0, SEEK_END);
	long size = ftell(f);
	fclose(f);
	CHECK(truncate(trace_path, size - 40) == 0);
	p = make_oracle(trace_path, 4, &rc, err, sizeof(err));
	CHECK(p == NULL);
	CHECK_EQ_U64(rc, (uint64_t)FS_EFORMAT);
	CHECK_STR_CONTAINS(msg(err), "truncated");

	/* One flipped byte in an event record. */
	CHECK_EQ_U64(write_trace(trace_path, rec, 500, 0), FS_OK);
	f = fopen(trace_path, "r+b");
	if (!f)
		return;
	fseek(f, 1104 + 16 * 100 + 3, SEEK_SET);
	int c = fgetc(f);
	fseek(f, 1104 + 16 * 100 + 3, SEEK_SET);
	fputc(c ^ 0x40, f);
	fclose(f);
	p = make_oracle(trace_path, 4, &rc, err, sizeof(err));
	CHECK(p == NULL);
	CHECK_EQ_U64(rc, (uint64_t)FS_EFORMAT);
	CHECK_STR_CONTAINS(msg(err), "checksum");
	CHECK_STR_CONTAINS(msg(err), "oracle");

}

TEST(oracle_accepts_an_empty_trace_but_not_a_run_that_has_events)
{
	/* A recording of a run that never reached far memory is valid... */
	CHECK_EQ_U64(write_trace(trace_path, rec, 0, 0), FS_OK);
	int rc;
	char err[1024];
	uint64_t out[FS_POLICY_MAX_CANDIDATES];
	fs_policy *p = make_oracle(trace_path, 4, &rc, err, sizeof(err));
	CHECK_EQ_U64(rc, FS_OK);
	if (!p)
		return;
	CHECK_EQ_U64(p->ops->status(p, err, sizeof(err)), FS_OK);
	/* ...but a live run that does reach it is not the recorded one. */
	int total = 0;
	for (int i = 0; i < 100; i++)
		total += feed(p, (uint64_t)i, 0, FS_EV_MISS, out);
	CHECK_EQ_U64(total, 0);
	CHECK_EQ_U64(p->ops->status(p, err, sizeof(err)), (uint64_t)FS_EINVAL);
	CHECK_STR_CONTAINS(msg(err), "does not follow");
	p->ops->destroy(p);
}

int main(void)
{
	snprintf(trace_path, sizeof(trace_path), "/tmp/fs_test_policies_%d.trace",
		 (int)getpid());
	RUN(registry_knows_every_baseline);
	RUN(readahead_window_grows_with_hits_and_shrinks_by_half);
	RUN(readahead_counts_assumed_hits_only_near_their_window);
	RUN(readahead_keeps_state_per_thread);
	RUN(hermit_prefetches_exactly_like_readahead);
	RUN(leap_sequential_stream);
	RUN(leap_strided_stream_where_readahead_gives_nothing);
	RUN(leap_descending_stride_stops_at_page_zero);
	RUN(leap_interleaved_threads_keep_their_own_trends);
	RUN(leap_majority_finds_the_dominant_stride_in_one_thread);
	RUN(leap_random_stream_falls_back_to_readahead);
	RUN(leap_phase_change_switches_trend_after_a_window_of_new_deltas);
	RUN(oracle_replays_pointer_chasing_exactly);
	RUN(oracle_resynchronises_when_the_live_stream_diverges);
	RUN(oracle_reports_a_mismatched_trace);
	RUN(oracle_stays_idle_in_another_program);
	RUN(oracle_refuses_a_missing_or_damaged_trace);
	RUN(oracle_accepts_an_empty_trace_but_not_a_run_that_has_events);
	unlink(trace_path);
	return TEST_EXIT();
}
