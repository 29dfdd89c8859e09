/*
 * futuremap.c - per-page future maps with a byte budget (design in futuremap.h).
 *
 * Layout: one pool of entries, structure-of-arrays so that a lookup touches one
 * cache line of slots: owner[e], slot[e*K + i] (successor page or FS_NOPAGE),
 * meta[e*K + i] (the replacement rule's number for the slot), tick[e] (the map's own
 * access counter, so LRU/FIFO stamps never wrap across the whole run), and prev/next
 * for a doubly linked list of maps in recency order (head = most recent), which is
 * what the budget drops from.  A pagetable maps page -> entry.
 *
 * Budget accounting: the pool is allocated at its final size only as far as the
 * budget allows (it grows by doubling up to max_entries); the index is a hash table
 * that stays at most 3/4 full, so each entry costs at most 2 * 4/3 index slots just
 * after a doubling.  max_entries is chosen so that pool + index <= budget.
 */
#include "model/futuremap.h"
#include "farsight.h"
#include "model/pagetable.h"

#include <stdlib.h>
#include <string.h>

#define NIL UINT32_MAX

struct fs_futuremap {
	uint32_t k;
	int replace;
	uint64_t budget;
	uint32_t n, cap, max_entries;
	uint64_t *owner;
	uint64_t *slot;
	uint32_t *meta;
	uint32_t *tick;
	uint32_t *prev, *next;
	uint32_t head, tail;
	fs_pagetable index;
	uint64_t dropped, replacements;
	uint64_t gen; /* bumped whenever a resolution may change: a slot filled, a map dropped */
};

static size_t entry_bytes(uint32_t k)
{
	return sizeof(uint64_t) + k * (sizeof(uint64_t) + sizeof(uint32_t)) +
	       3 * sizeof(uint32_t);
}
/* Worst-case index bytes per entry: load between 3/8 and 3/4 -> <= 8/3 slots. */
#define INDEX_BYTES_PER_ENTRY ((8 * (sizeof(uint64_t) + sizeof(uint32_t)) + 2) / 3)

const char *fs_fm_replace_name(int r)
{
	return r == FS_FM_LRU ? "lru" : r == FS_FM_LFU ? "lfu" : r == FS_FM_FIFO ? "fifo" : "?";
}

int fs_fm_replace_parse(const char *name)
{
	for (int r = 0; r < 3; r++)
		if (!strcmp(name, fs_fm_replace_name(r)))
			return r;
	return -1;
}

static int reserve(fs_futuremap *fm, uint32_t cap)
{
	uint32_t k = fm->k;
	void *p;
#define GROW(field, per)                                                            \
	if (!(p = realloc(fm->field, (size_t)cap * (per) * sizeof(*fm->field))))   \
		return FS_ENOMEM;                                                   \
	fm->field = p;
	GROW(owner, 1)
	GROW(slot, k)
	GROW(meta, k)
	GROW(tick, 1)
	GROW(prev, 1)
	GROW(next, 1)
#undef GROW
	fm->cap = cap;
	return FS_OK;
}

int fs_fm_create(uint32_t k, int replace, uint64_t budget, fs_futuremap **out)
{
	if (k < 1 || k > FS_FM_MAX_K || replace < 0 || replace > 2)
		return FS_EINVAL;
	uint64_t per = entry_bytes(k) + INDEX_BYTES_PER_ENTRY;
	uint64_t max = budget ? budget / per : UINT32_MAX - 1;
	if (max < 64)
		return FS_EINVAL;
	if (max > UINT32_MAX - 1)
		max = UINT32_MAX - 1;
	fs_futuremap *fm = calloc(1, sizeof(*fm));
	if (!fm)
		return FS_ENOMEM;
	fm->k = k;
	fm->replace = replace;
	fm->budget = budget;
	fm->max_entries = (uint32_t)max;
	fm->head = fm->tail = NIL;
	if (reserve(fm, max < 1024 ? (uint32_t)max : 1024) || fs_pt_init(&fm->index, 64)) {
		fs_fm_destroy(fm);
		return FS_ENOMEM;
	}
	*out = fm;
	return FS_OK;
}

void fs_fm_destroy(fs_futuremap *fm)
{
	if (!fm)
		return;
	free(fm->owner);
	free(fm->slot);
	free(fm->meta);
	free(fm->tick);
	free(fm->prev);
	free(fm->next);
	fs_pt_free(&fm->index);
	free(fm);
}

static void unlink_entry(fs_futuremap *fm, uint32_t e)
{
	if (fm->prev[e] != NIL)
		fm->next[fm->prev[e]] = fm->next[e];
	else
		fm->head = fm->next[e];
	if (fm->next[e] != NIL)
		fm->prev[fm->next[e]] = fm->prev[e];
	else
		fm->tail = fm->prev[e];
}

static void push_front(fs_futuremap *fm, uint32_t e)
{
	fm->prev[e] = NIL;
	fm->next[e] = fm->head;
	if (fm->head != NIL)
		fm->prev[fm->head] = e;
	fm->head = e;
	if (fm->tail == NIL)
		fm->tail = e;
}

static void touch(fs_futuremap *fm, uint32_t e)
{
	if (fm->head == e)
		return;
	unlink_entry(fm, e);
	push_front(fm, e);
}

/* The entry of page's map, creating it (maybe by dropping the least recent map). */
static uint32_t get_or_create(fs_futuremap *fm, uint64_t page)
{
	uint32_t e = fs_pt_get(&fm->index, page);
	if (e != FS_PT_NONE)
		return e;
	if (fm->n < fm->max_entries) {
		if (fm->n == fm->cap) {
			uint64_t c = (uint64_t)fm->cap * 2;
			if (c > fm->max_entries)
				c = fm->max_entries;
			if (reserve(fm, (uint32_t)c))
				return NIL;
		}
		e = fm->n++;
	} else {
		/* Budget reached: drop the map of the page used longest ago. */
		e = fm->tail;
		unlink_entry(fm, e);
		fs_pt_del(&fm->index, fm->owner[e]);
		fm->dropped++;
		fm->gen++;
	}
	if (fs_pt_put(&fm->index, page, e)) {
		/* Cannot index it: give the entry back (it is unlinked and unindexed). */
		if (e == fm->n - 1)
			fm->n--;
		return NIL;
	}
	fm->owner[e] = page;
	fm->tick[e] = 0;
	for (uint32_t i = 0; i < fm->k; i++) {
		fm->slot[(size_t)e * fm->k + i] = FS_NOPAGE;
		fm->meta[(size_t)e * fm->k + i] = 0;
	}
	push_front(fm, e);
	return e;
}

static void slot_used(fs_futuremap *fm, uint32_t e, uint32_t i, int filled)
{
	uint32_t *m = &fm->meta[(size_t)e * fm->k + i];
	uint32_t t = ++fm->tick[e];
	switch (fm->replace) {
	case FS_FM_LRU:
		*m = t;
		break;
	case FS_FM_FIFO:
		if (filled)
			*m = t;
		break;
	case FS_FM_LFU:
		if (filled) {
			*m = 1;
		} else if (++*m == UINT16_MAX) {
			for (uint32_t j = 0; j < fm->k; j++)
				fm->meta[(size_t)e * fm->k + j] >>= 1;
		}
		break;
	}
}

uint32_t fs_fm_lookup(fs_futuremap *fm, uint64_t page, uint64_t succ)
{
	uint32_t e = fs_pt_get(&fm->index, page);
	if (e == FS_PT_NONE)
		return 0;
	touch(fm, e);
	const uint64_t *s = &fm->slot[(size_t)e * fm->k];
	for (uint32_t i = 0; i < fm->k; i++)
		if (s[i] == succ) {
			slot_used(fm, e, i, 0);
			return i + 1;
		}
	return 0;
}

uint32_t fs_fm_insert(fs_futuremap *fm, uint64_t page, uint64_t succ)
{
	uint32_t e = get_or_create(fm, page);
	if (e == NIL)
		return 0;
	touch(fm, e);
	uint64_t *s = &fm->slot[(size_t)e * fm->k];
	const uint32_t *m = &fm->meta[(size_t)e * fm->k];
	uint32_t victim = 0;
	for (uint32_t i = 0; i < fm->k; i++) {
		if (s[i] == succ)
			return i + 1;
		if (s[i] == FS_NOPAGE) {
			victim = i;
			goto fill;
		}
	}
	/* Full: the smallest meta loses (oldest use / fill, or fewest hits). Ties go to
	 * the lowest ordinal, which keeps replacement deterministic. */
	for (uint32_t i = 1; i < fm->k; i++)
		if (m[i] < m[victim])
			victim = i;
	fm->replacements++;
fill:
	fm->gen++;
	s[victim] = succ;
	slot_used(fm, e, victim, 1);
	return victim + 1;
}

uint64_t fs_fm_generation(const fs_futuremap *fm) { return fm->gen; }

uint64_t fs_fm_slot(const fs_futuremap *fm, uint64_t page, uint32_t ordinal)
{
	if (ordinal < 1 || ordinal > fm->k)
		return FS_NOPAGE;
	uint32_t e = fs_pt_get(&fm->index, page);
	if (e == FS_PT_NONE)
		return FS_NOPAGE;
	return fm->slot[(size_t)e * fm->k + ordinal - 1];
}

const uint64_t *fs_fm_slots(const fs_futuremap *fm, uint64_t page)
{
	uint32_t e = fs_pt_get(&fm->index, page);
	return e == FS_PT_NONE ? NULL : &fm->slot[(size_t)e * fm->k];
}

uint64_t fs_fm_bytes(const fs_futuremap *fm)
{
	return (uint64_t)fm->cap * entry_bytes(fm->k) + fs_pt_bytes(&fm->index) + sizeof(*fm);
}

void fs_fm_get_stats(const fs_futuremap *fm, fs_fm_stats *out)
{
	out->maps = fm->n;
	out->maps_dropped = fm->dropped;
	out->replacements = fm->replacements;
	out->bytes = fs_fm_bytes(fm);
}
