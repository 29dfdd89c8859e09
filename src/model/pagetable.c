/*
 * pagetable.c - page number -> index hash table (see pagetable.h for the design).
 */
#include "model/pagetable.h"
#include "farsight.h"

#include <stdlib.h>
#include <string.h>

#define EMPTY UINT64_MAX

static inline size_t slot_of(uint64_t key, size_t mask)
{
	/* Fibonacci hashing: consecutive pages (the common case) spread evenly. */
	return (size_t)((key * 0x9e3779b97f4a7c15ull) >> 17) & mask;
}

int fs_pt_init(fs_pagetable *t, size_t cap)
{
	size_t c = 16;
	while (c < cap)
		c <<= 1;
	t->keys = malloc(c * sizeof(uint64_t));
	t->vals = malloc(c * sizeof(uint32_t));
	if (!t->keys || !t->vals) {
		free(t->keys);
		free(t->vals);
		t->keys = NULL;
		t->vals = NULL;
		return FS_ENOMEM;
	}
	memset(t->keys, 0xff, c * sizeof(uint64_t));
	t->cap = c;
	t->count = 0;
	return FS_OK;
}

void fs_pt_free(fs_pagetable *t)
{
	free(t->keys);
	free(t->vals);
	memset(t, 0, sizeof(*t));
}

uint32_t fs_pt_get(const fs_pagetable *t, uint64_t key)
{
	size_t mask = t->cap - 1;
	for (size_t i = slot_of(key, mask);; i = (i + 1) & mask) {
		if (t->keys[i] == key)
			return t->vals[i];
		if (t->keys[i] == EMPTY)
			return FS_PT_NONE;
	}
}

static int grow(fs_pagetable *t)
{
	fs_pagetable n;
	if (fs_pt_init(&n, t->cap * 2))
		return FS_ENOMEM;
	for (size_t i = 0; i < t->cap; i++)
		if (t->keys[i] != EMPTY)
			fs_pt_put(&n, t->keys[i], t->vals[i]);
	fs_pt_free(t);
	*t = n;
	return FS_OK;
}

int fs_pt_put(fs_pagetable *t, uint64_t key, uint32_t val)
{
	if ((t->count + 1) * 4 > t->cap * 3 && grow(t))
		return FS_ENOMEM;
	size_t mask = t->cap - 1;
	for (size_t i = slot_of(key, mask);; i = (i + 1) & mask) {
		if (t->keys[i] == key) {
			t->vals[i] = val;
			return FS_OK;
		}
		if (t->keys[i] == EMPTY) {
			t->keys[i] = key;
			t->vals[i] = val;
			t->count++;
			return FS_OK;
		}
	}
}

void fs_pt_del(fs_pagetable *t, uint64_t key)
{
	size_t mask = t->cap - 1;
	size_t i = slot_of(key, mask);
	while (t->keys[i] != key) {
		if (t->keys[i] == EMPTY)
			return;
		i = (i + 1) & mask;
	}
	/* Backward shift: pull later members of the probe run into the hole, so that no
	 * lookup ever stops early at it. */
	size_t hole = i;
	for (size_t j = (i + 1) & mask; t->keys[j] != EMPTY; j = (j + 1) & mask) {
		size_t home = slot_of(t->keys[j], mask);
		/* j may move to the hole if its home is not in (hole, j] cyclically. */
		int in_range = hole <= j ? (home > hole && home <= j) : (home > hole || home <= j);
		if (!in_range) {
			t->keys[hole] = t->keys[j];
			t->vals[hole] = t->vals[j];
			hole = j;
		}
	}
	t->keys[hole] = EMPTY;
	t->count--;
}
