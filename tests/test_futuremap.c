/*
 * test_futuremap.c - future maps: ordinals are stable, replacement follows the chosen
 * rule, and memory stays inside the byte budget by dropping the least recent maps.
 */
#include "testlib.h"
#include "farsight.h"
#include "model/futuremap.h"

TEST(ordinals_fill_in_order_and_stay_stable)
{
	fs_futuremap *fm = NULL;
	CHECK(fs_fm_create(4, FS_FM_LRU, 0, &fm) == 0);
	CHECK_EQ_U64(fs_fm_lookup(fm, 10, 11), 0);
	CHECK_EQ_U64(fs_fm_insert(fm, 10, 11), 1);
	CHECK_EQ_U64(fs_fm_insert(fm, 10, 20), 2);
	CHECK_EQ_U64(fs_fm_insert(fm, 10, 30), 3);
	CHECK_EQ_U64(fs_fm_insert(fm, 10, 20), 2); /* already there */
	CHECK_EQ_U64(fs_fm_lookup(fm, 10, 30), 3);
	CHECK_EQ_U64(fs_fm_slot(fm, 10, 1), 11);
	CHECK_EQ_U64(fs_fm_slot(fm, 10, 4), FS_NOPAGE);
	CHECK_EQ_U64(fs_fm_slot(fm, 10, 0), FS_NOPAGE);
	CHECK_EQ_U64(fs_fm_slot(fm, 99, 1), FS_NOPAGE);
	fs_fm_destroy(fm);
}

static uint32_t fill_and_replace(int rule)
{
	fs_futuremap *fm = NULL;
	fs_fm_create(3, rule, 0, &fm);
	fs_fm_insert(fm, 1, 100); /* ord 1 */
	fs_fm_insert(fm, 1, 200); /* ord 2 */
	fs_fm_insert(fm, 1, 300); /* ord 3 */
	/* 100 is hit twice, 300 once, 200 never: */
	fs_fm_lookup(fm, 1, 100);
	fs_fm_lookup(fm, 1, 300);
	fs_fm_lookup(fm, 1, 100);
	uint32_t o = fs_fm_insert(fm, 1, 400);
	fs_fm_destroy(fm);
	return o;
}

TEST(replacement_rules_pick_their_victim)
{
	/* LRU: least recently used is 200 (ord 2); LFU: fewest hits is 200 (ord 2);
	 * FIFO: the oldest fill is 100 (ord 1) despite its hits. */
	CHECK_EQ_U64(fill_and_replace(FS_FM_LRU), 2);
	CHECK_EQ_U64(fill_and_replace(FS_FM_LFU), 2);
	CHECK_EQ_U64(fill_and_replace(FS_FM_FIFO), 1);
	fs_futuremap *fm = NULL;
	fs_fm_create(2, FS_FM_LRU, 0, &fm);
	fs_fm_insert(fm, 1, 100);
	fs_fm_insert(fm, 1, 200);
	fs_fm_lookup(fm, 1, 100);
	CHECK_EQ_U64(fs_fm_insert(fm, 1, 300), 2); /* 200 was least recent */
	fs_fm_stats st;
	fs_fm_get_stats(fm, &st);
	CHECK_EQ_U64(st.replacements, 1);
	fs_fm_destroy(fm);
	CHECK_EQ_U64(fs_fm_replace_parse("lfu"), FS_FM_LFU);
	CHECK(fs_fm_replace_parse("random") == -1);
}

TEST(budget_bounds_bytes_and_drops_least_recent_maps)
{
	const uint64_t budget = 64 * 1024;
	fs_futuremap *fm = NULL;
	CHECK(fs_fm_create(8, FS_FM_LRU, budget, &fm) == 0);
	for (uint64_t p = 0; p < 100000; p++) {
		fs_fm_insert(fm, p, p + 1);
		CHECK(fs_fm_bytes(fm) <= budget);
		if (fs_fm_bytes(fm) > budget)
			break;
	}
	fs_fm_stats st;
	fs_fm_get_stats(fm, &st);
	CHECK(st.maps_dropped > 0);
	CHECK(st.maps > 100);
	/* the most recent maps survive, the oldest were dropped */
	CHECK_EQ_U64(fs_fm_slot(fm, 99999, 1), 100000);
	CHECK_EQ_U64(fs_fm_slot(fm, 0, 1), FS_NOPAGE);
	/* a map that keeps being used survives the churn */
	fs_fm_insert(fm, 5, 6);
	for (uint64_t p = 200000; p < 260000; p++) {
		fs_fm_insert(fm, p, p + 1);
		fs_fm_lookup(fm, 5, 6);
	}
	CHECK_EQ_U64(fs_fm_slot(fm, 5, 1), 6);
	fs_fm_destroy(fm);
	CHECK(fs_fm_create(8, FS_FM_LRU, 100, &fm) == FS_EINVAL);
	CHECK(fs_fm_create(0, FS_FM_LRU, 0, &fm) == FS_EINVAL);
}

int main(void)
{
	RUN(ordinals_fill_in_order_and_stay_stable);
	RUN(replacement_rules_pick_their_victim);
	RUN(budget_bounds_bytes_and_drops_least_recent_maps);
	return TEST_EXIT();
}
