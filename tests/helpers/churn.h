/*
 * churn.h - the integrity stress every backend is tested with (header-only, for
 * tests/test_*.c): THREADS threads each own a block of far memory, fill it, then read
 * and rewrite random words of it while the pager evicts and fetches under a budget of
 * a few percent; at the end every word is checked against what was last written.
 *
 * Pages of a block are of four kinds in turn, so compressing backends see every case
 * they store differently: random words (incompressible), small numbers (compress
 * ~2-4x), one word repeated over the page (same-filled: stored without data), and
 * zeros.  A rewritten word gets a new value of its page's kind, so pages move between
 * kinds (a same-filled page with one new word is a compressible page).
 */
#ifndef FS_TEST_CHURN_H
#define FS_TEST_CHURN_H

#include "farsight.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

static inline uint64_t churn_mix(uint64_t x)
{
	x *= 0x9e3779b97f4a7c15ull;
	x ^= x >> 31;
	x *= 0xbf58476d1ce4e5b9ull;
	return x ^ (x >> 29);
}

/* The value of word i (8-byte words, 512 per page) at version v of a block seeded s. */
static inline uint64_t churn_value(uint64_t i, uint64_t s, uint32_t v)
{
	uint64_t page = i / 512;
	switch ((page + s) % 4) {
	case 0: return churn_mix(i ^ s << 40 ^ (uint64_t)v << 20);
	case 1: return churn_mix(i ^ s << 40 ^ (uint64_t)v << 20) % 13;
	case 2: return v ? churn_mix(i + v) : churn_mix(page ^ s << 40) | 1;
	default: return v ? churn_mix(i * 3 + v) : 0;
	}
}

struct churn_worker {
	uint64_t *data;
	size_t n; /* words */
	uint64_t seed;
	int ops;
	size_t bad;
};

static void *churn_thread(void *arg)
{
	struct churn_worker *w = arg;
	uint64_t x = w->seed * 0x2545f4914f6cdd1dull | 1;
	uint32_t *version = calloc(w->n, sizeof(uint32_t));
	for (size_t i = 0; i < w->n; i++)
		w->data[i] = churn_value(i, w->seed, 0);
	for (int op = 0; op < w->ops; op++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		size_t i = x % w->n;
		if (x & 0x100000) {
			version[i]++;
			w->data[i] = churn_value(i, w->seed, version[i]);
		} else {
			w->bad += w->data[i] != churn_value(i, w->seed, version[i]);
		}
	}
	for (size_t i = 0; i < w->n; i++)
		w->bad += w->data[i] != churn_value(i, w->seed, version[i]);
	free(version);
	return NULL;
}

/* Run the stress on rt: threads x bytes each, ops random accesses per thread.  Returns
 * the number of wrong words read (0 when far memory kept every byte), or SIZE_MAX if
 * the blocks could not be allocated. */
static inline size_t churn_run(fs_runtime *rt, int threads, size_t bytes, int ops)
{
	struct churn_worker w[16];
	pthread_t th[16];
	if (threads > 16)
		threads = 16;
	for (int t = 0; t < threads; t++) {
		w[t] = (struct churn_worker){ fs_alloc(rt, bytes), bytes / 8, 1000 + (uint64_t)t, ops, 0 };
		if (!w[t].data)
			return SIZE_MAX;
	}
	for (int t = 0; t < threads; t++)
		pthread_create(&th[t], NULL, churn_thread, &w[t]);
	size_t bad = 0;
	for (int t = 0; t < threads; t++) {
		pthread_join(th[t], NULL);
		bad += w[t].bad;
	}
	return bad;
}

#endif
