/*
 * pagetable.h - an open-addressing hash table from a 64-bit page number to a 32-bit
 * index (internal).  Shared by the future maps (page -> map entry) and the replay
 * simulator (page -> cache slot).
 *
 * Linear probing with backward-shift deletion (no tombstones, so lookups stay short
 * after many evictions); the table doubles when 3/4 full.  Key UINT64_MAX is reserved
 * as the empty marker, which no arena page index can be (trace pages are 48-bit).
 */
#ifndef FS_PAGETABLE_H
#define FS_PAGETABLE_H

#include <stddef.h>
#include <stdint.h>

#define FS_PT_NONE UINT32_MAX

typedef struct fs_pagetable {
	uint64_t *keys;
	uint32_t *vals;
	size_t cap;   /* power of two */
	size_t count;
} fs_pagetable;

int fs_pt_init(fs_pagetable *t, size_t initial_cap);
void fs_pt_free(fs_pagetable *t);
/* FS_PT_NONE if absent. */
uint32_t fs_pt_get(const fs_pagetable *t, uint64_t key);
/* Insert or overwrite; FS_ENOMEM if the table cannot grow. */
int fs_pt_put(fs_pagetable *t, uint64_t key, uint32_t val);
/* Remove; no-op if absent. */
void fs_pt_del(fs_pagetable *t, uint64_t key);
/* Bytes held by the table's arrays. */
static inline size_t fs_pt_bytes(const fs_pagetable *t)
{
	return t->cap * (sizeof(uint64_t) + sizeof(uint32_t));
}

#endif
