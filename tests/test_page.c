/*
 * test_page.c - the page module's transitions (src/runtime/page.c) without userfaultfd.
 *
 * The kernel side is a fake (struct fake): per page, whether a frame is in the page
 * cache and what it holds, whether the program's view maps it and whether write-
 * protected, and what the far store holds.  A random program touches, writes, frees
 * pages while a random pager prefetches, lands reads in any order, deactivates and
 * evicts like reclaim.c, and a write-back queue that is full now and then.  After
 * every step the module's invariants (fs_pages_check: the table in page.h) and the
 * fake's must hold:
 *   - a page the program can write without a fault is DIRTY (or eviction would drop
 *     the write); a mapped page is in the page cache;
 *   - every read returns what was last written there (zero if never written or
 *     discarded), through any number of evictions and refetches.
 */
#include "runtime/page.h"
#include "testlib.h"

#include <stdint.h>

#define NP 48
#define BUDGET 12

struct fake {
	int present[NP], mapped[NP], wp[NP];
	uint32_t frame[NP];
	int far_has[NP];
	uint32_t far[NP];
	int full_every; /* write_back answers FS_EFULL every so often */
	int calls, fulls, bad;
};

static struct fake F;

static void fake_bad(const char *what, uint64_t page)
{
	fprintf(stderr, "  fake: %s (page %llu)\n", what, (unsigned long long)page);
	F.bad++;
}

static void op_map(void *ctx, uint64_t page, uint64_t n, int writable)
{
	for (uint64_t k = page; k < page + n; k++) {
		if (!F.present[k])
			fake_bad("map of a page not in the page cache", k);
		F.mapped[k] = 1;
		F.wp[k] = !writable;
	}
}
static void op_unmap(void *ctx, uint64_t page, uint64_t n)
{
	for (uint64_t k = page; k < page + n; k++) {
		if (!F.mapped[k])
			fake_bad("unmap of a page not mapped", k);
		F.mapped[k] = 0;
	}
}
static void op_protect(void *ctx, uint64_t page, uint64_t n)
{
	for (uint64_t k = page; k < page + n; k++)
		F.wp[k] = 1;
}
static void op_unprotect(void *ctx, uint64_t page)
{
	F.wp[page] = 0;
}
static int op_write_back(void *ctx, uint64_t page, uint64_t n)
{
	if (n > FS_PAGE_WRITE_MAX)
		fake_bad("write-back longer than FS_PAGE_WRITE_MAX", page);
	if (F.full_every && ++F.calls % F.full_every == 0) {
		F.fulls++;
		return FS_EFULL;
	}
	for (uint64_t k = page; k < page + n; k++) {
		if (!F.present[k])
			fake_bad("write-back of a page not in the page cache", k);
		if (F.mapped[k] && !F.wp[k])
			fake_bad("write-back of a page the program can still write", k);
		F.far[k] = F.frame[k];
		F.far_has[k] = 1;
	}
	return FS_OK;
}
static void op_release(void *ctx, uint64_t page, uint64_t n)
{
	for (uint64_t k = page; k < page + n; k++) {
		F.present[k] = F.mapped[k] = F.wp[k] = 0;
		F.frame[k] = 0xdeadbeef; /* a hole: whatever was there is gone */
	}
}
static void op_zero(void *ctx, uint64_t page)
{
	F.present[page] = 1;
	F.frame[page] = 0;
}
static void op_forget(void *ctx, uint64_t page, uint64_t n)
{
	for (uint64_t k = page; k < page + n; k++)
		F.far_has[k] = 0;
}

static const fs_page_ops fake_ops = { op_map, op_unmap, op_protect, op_unprotect,
				      op_write_back, op_release, op_zero, op_forget };

/* ---- the simulated pager and program -------------------------------------------- */

static fs_pages P;
static struct fs_page_counts C;
static uint32_t expect[NP];
static uint64_t inflight[NP];
static int ninflight;
static uint64_t rng = 88172645463325252ull;

static uint64_t rnd(uint64_t n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng % n;
}

static int check_all(void)
{
	char err[256];
	if (fs_pages_check(&P, NP, err, sizeof(err))) {
		fprintf(stderr, "  invariant: %s\n", err);
		return 0;
	}
	for (int k = 0; k < NP; k++) {
		uint8_t s = P.state[k] & PS_MASK;
		if (F.mapped[k] && !F.wp[k] && s != PS_DIRTY) {
			fprintf(stderr, "  page %d is writable without a fault but state %d\n", k, s);
			return 0;
		}
		if (F.mapped[k] != (s == PS_MAPPED || s == PS_DIRTY)) {
			fprintf(stderr, "  page %d: mapped %d, state %d\n", k, F.mapped[k], s);
			return 0;
		}
	}
	return F.bad == 0;
}

/* A backend read of page k completes: its frame holds the far copy. */
static void complete_read(uint64_t k, int map_prefetched)
{
	if (!F.far_has[k])
		fake_bad("read of a page the far store does not have", k);
	F.present[k] = 1;
	F.frame[k] = F.far[k];
	uint64_t arrived[1];
	fs_page_land(&P, k, 1, map_prefetched, arrived);
}

static void land_one(int map_prefetched)
{
	int i = (int)rnd((uint64_t)ninflight);
	uint64_t k = inflight[i];
	inflight[i] = inflight[--ninflight];
	complete_read(k, map_prefetched);
}

/* reclaim.c's clock, in miniature: deactivate towards a quarter of the budget, then
 * evict from the inactive list in contiguous runs (retrying a full write-back queue). */
static int reclaim_one(void)
{
	uint64_t buf[BUDGET], n = 0, pg;
	if (P.clock) {
		while (P.n_cached + n < BUDGET / 4 + 1 && (pg = fs_pages_pop_active(&P)) != FS_PAGE_NONE)
			buf[n++] = pg;
		if (n)
			fs_page_deactivate(&P, buf, n);
	}
	if ((pg = fs_pages_pop_inactive(&P)) == FS_PAGE_NONE)
		return n > 0;
	while (fs_page_evict(&P, pg, 1) == FS_EFULL)
		; /* the pager drains here */
	return 1;
}

static void make_room(void)
{
	while (fs_pages_free(&P) == 0) {
		if (!reclaim_one()) {
			if (!ninflight) {
				fake_bad("nothing evictable and nothing in flight", 0);
				return;
			}
			land_one(0);
		}
	}
}

/* The program touches page k (write: stores v). */
static void touch(uint64_t k, int write, uint32_t v)
{
	for (;;) {
		uint8_t s = P.state[k] & PS_MASK;
		if (s == PS_MAPPED || s == PS_DIRTY) {
			if (write && F.wp[k]) {
				fs_page_written(&P, k); /* the WP fault */
				continue;
			}
			break;
		}
		if (s == PS_CACHED) {
			fs_page_touch(&P, k, write);
		} else if (s == PS_ZERO) {
			make_room();
			fs_page_zero_fill(&P, k, write);
		} else if (s == PS_FAR) {
			make_room();
			fs_page_fetch(&P, k, FS_FETCH_DEMAND | (write ? FS_FETCH_WRITE : 0));
			complete_read(k, 0);
		} else { /* FETCH: wait for the prefetch */
			fs_page_wait(&P, k, write);
			for (int i = 0; i < ninflight; i++)
				if (inflight[i] == k) {
					inflight[i] = inflight[--ninflight];
					break;
				}
			complete_read(k, 0);
		}
	}
	if (F.frame[k] != expect[k])
		fake_bad("read returned the wrong value", k);
	if (write) {
		F.frame[k] = v;
		expect[k] = v;
	}
}

static void run(int clock, int have_wp, int full_every, int steps)
{
	memset(&F, 0, sizeof(F));
	memset(&C, 0, sizeof(C));
	memset(expect, 0, sizeof(expect));
	ninflight = 0;
	F.full_every = full_every;
	CHECK(fs_pages_init(&P, NP, BUDGET, clock, have_wp, &C, &fake_ops, NULL) == 0);
	P.arrival_front = (int)rnd(2);
	int ok = 1;
	for (int step = 0; step < steps && ok; step++) {
		uint64_t k = rnd(NP);
		switch (rnd(10)) {
		case 0: case 1: case 2: case 3:
			touch(k, 0, 0);
			break;
		case 4: case 5:
			touch(k, 1, (uint32_t)step + 1);
			break;
		case 6: /* a prefetch, if there is room */
			if (fs_pages_free(&P) && fs_page_fetch(&P, k, rnd(3) ? 0 : FS_FETCH_TRIPWIRE) == 0)
				inflight[ninflight++] = k;
			break;
		case 7:
			if (ninflight)
				land_one((int)rnd(2));
			break;
		case 8:
			reclaim_one();
			break;
		case 9: { /* discard a range: land every read first, as the pager does */
			while (ninflight)
				land_one(0);
			uint64_t n = 1 + rnd(4);
			if (k + n > NP)
				n = NP - k;
			fs_page_discard(&P, k, n);
			for (uint64_t j = k; j < k + n; j++)
				expect[j] = 0;
			break;
		}
		}
		ok = check_all();
		if (!ok)
			fprintf(stderr, "  after step %d (clock %d, wp %d)\n", step, clock, have_wp);
	}
	CHECK(ok);
	/* Every page reads back what was last written. */
	while (ninflight)
		land_one(0);
	for (uint64_t k = 0; k < NP; k++)
		touch(k, 0, 0);
	CHECK(F.bad == 0);
	CHECK(check_all());
	CHECK(atomic_load(&C.peak_pages) <= BUDGET);
	CHECK(atomic_load(&C.evictions) > 0);
	if (full_every)
		CHECK(F.fulls > 0);
	fs_pages_fini(&P);
}

TEST(random_transitions_keep_invariants_and_data_clock)
{
	run(1, 1, 0, 20000);
}

TEST(random_transitions_keep_invariants_and_data_fifo)
{
	run(0, 1, 0, 20000);
}

TEST(random_transitions_without_write_protect)
{
	run(1, 0, 0, 20000);
}

TEST(a_full_write_back_queue_loses_nothing)
{
	run(1, 1, 3, 20000);
	CHECK(atomic_load(&C.writebacks) > 0);
}

/* The counters follow the transitions one to one. */
TEST(counters_follow_transitions)
{
	memset(&F, 0, sizeof(F));
	memset(&C, 0, sizeof(C));
	CHECK(fs_pages_init(&P, NP, BUDGET, 1, 1, &C, &fake_ops, NULL) == 0);
	F.far_has[1] = F.far_has[2] = F.far_has[3] = 1;
	P.state[1] = P.state[2] = P.state[3] = PS_FAR | PF_HASFAR;
	fs_page_zero_fill(&P, 0, 0);
	CHECK_EQ_U64(C.zero_fills, 1);
	/* a prefetch touched while in flight: a late hit */
	CHECK(fs_page_fetch(&P, 1, 0) == 0);
	CHECK(fs_page_fetch(&P, 1, 0) == -1); /* not FAR any more */
	CHECK(fs_page_wait(&P, 1, 0) == 1);
	CHECK(fs_page_wait(&P, 1, 0) == 2);
	CHECK_EQ_U64(C.late_hits, 1);
	CHECK_EQ_U64(C.prefetch_hits, 1);
	complete_read(1, 1); /* has a waiter: mapped for it, not "on arrival" */
	CHECK_EQ_U64(C.prefetches_mapped, 0);
	/* two prefetches landing as one run, mapped on arrival with one map */
	CHECK(fs_page_fetch(&P, 2, 0) == 0 && fs_page_fetch(&P, 3, 0) == 0);
	F.present[2] = F.present[3] = 1;
	uint64_t arrived[2];
	CHECK(fs_page_land(&P, 2, 2, 1, arrived) == 2);
	CHECK(arrived[0] == 2 && arrived[1] == 3);
	CHECK_EQ_U64(C.prefetches_mapped, 2);
	CHECK((P.state[2] & PS_MASK) == PS_MAPPED && F.wp[2]);
	CHECK_EQ_U64(P.local, 4);
	/* deactivate and touch again: a reactivation, not a hit */
	uint64_t d[1] = { 2 };
	fs_page_deactivate(&P, d, 1);
	CHECK_EQ_U64(P.n_cached, 1);
	CHECK(fs_page_touch(&P, 2, 0) == 0);
	CHECK_EQ_U64(C.reactivations, 1);
	CHECK_EQ_U64(C.prefetch_hits, 1);
	/* a prefetch left CACHED and discarded untouched: wasted */
	P.state[5] = PS_FAR | PF_HASFAR;
	F.far_has[5] = 1;
	CHECK(fs_page_fetch(&P, 5, 0) == 0);
	complete_read(5, 0);
	CHECK((P.state[5] & PS_MASK) == PS_CACHED);
	fs_page_discard(&P, 5, 1);
	CHECK_EQ_U64(C.wasted_prefetches, 1);
	CHECK(P.state[5] == PS_ZERO && !F.far_has[5]);
	char err[256];
	CHECK(fs_pages_check(&P, NP, err, sizeof(err)) == 0);
	fs_pages_fini(&P);
}

/* The check catches what it claims to. */
TEST(check_finds_broken_invariants)
{
	memset(&C, 0, sizeof(C));
	char err[256];
	CHECK(fs_pages_init(&P, NP, BUDGET, 1, 1, &C, &fake_ops, NULL) == 0);
	memset(&F, 0, sizeof(F));
	fs_page_zero_fill(&P, 4, 1);
	CHECK(fs_pages_check(&P, NP, err, sizeof(err)) == 0);
	P.local++;
	CHECK(fs_pages_check(&P, NP, err, sizeof(err)) != 0);
	CHECK_STR_CONTAINS(err, "counters");
	P.local--;
	P.state[4] |= PF_WAITER;
	CHECK(fs_pages_check(&P, NP, err, sizeof(err)) != 0);
	CHECK_STR_CONTAINS(err, "waiter");
	P.state[4] = PS_MAPPED;
	P.gen[4]++; /* its list entry is stale now */
	CHECK(fs_pages_check(&P, NP, err, sizeof(err)) != 0);
	CHECK_STR_CONTAINS(err, "no reclaim list");
	fs_pages_fini(&P);
}

int main(void)
{
	RUN(random_transitions_keep_invariants_and_data_clock);
	RUN(random_transitions_keep_invariants_and_data_fifo);
	RUN(random_transitions_without_write_protect);
	RUN(a_full_write_back_queue_loses_nothing);
	RUN(counters_follow_transitions);
	RUN(check_finds_broken_invariants);
	return TEST_EXIT();
}
