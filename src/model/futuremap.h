/*
 * futuremap.h - per-page future maps (internal; shared by the runtime policy, train
 * and eval).
 *
 * A future map belongs to one page P and holds up to K successor pages: the pages that
 * were seen to follow P in some thread's fault stream.  Slot i (ordinal i, 1..K) is
 * what the model means by "the i-th known successor".  Ordinals are stable: a page
 * keeps its slot until it is replaced, and a new successor takes the first empty slot,
 * so in a traversal that is repeated the same edge gets the same ordinal every time.
 *
 * When all K slots are taken, a new successor replaces one by the map's replacement
 * rule (measured in docs/MODEL.md):
 *   FS_FM_LRU   the slot least recently hit or filled (default)
 *   FS_FM_LFU   the slot hit least often (counts halve when one saturates, so old
 *               popularity fades)
 *   FS_FM_FIFO  the slot filled longest ago (hits do not protect a slot)
 *
 * Memory is bounded by a byte budget given at creation: every byte the maps hold (the
 * entry pool and the page -> entry index, the "future map roots") is counted, and when
 * one more map would exceed the budget the map of the page that was used longest ago
 * is dropped and its entry reused.  A page whose map was dropped simply starts over
 * with an empty map: predictions through it fail until it is re-learned.
 */
#ifndef FS_FUTUREMAP_H
#define FS_FUTUREMAP_H

#include <stddef.h>
#include <stdint.h>

#define FS_FM_MAX_K 64
#define FS_NOPAGE UINT64_MAX

enum { FS_FM_LRU = 0, FS_FM_LFU = 1, FS_FM_FIFO = 2 };

typedef struct fs_futuremap fs_futuremap;

typedef struct fs_fm_stats {
	uint64_t maps;         /* maps held now */
	uint64_t maps_dropped; /* maps dropped to stay in the budget */
	uint64_t replacements; /* successors that replaced a full map's slot */
	uint64_t bytes;        /* bytes held now (fs_fm_bytes) */
} fs_fm_stats;

/* k in 1..FS_FM_MAX_K; budget_bytes 0 = unbounded.  Returns FS_EINVAL on a bad k or
 * rule, or a budget too small for 64 maps. */
int fs_fm_create(uint32_t k, int replace, uint64_t budget_bytes, fs_futuremap **out);
void fs_fm_destroy(fs_futuremap *fm);

/* Ordinal (1..K) of succ in page's map, 0 if absent.  A hit counts as a use of the
 * slot and of the map (for the replacement rules). */
uint32_t fs_fm_lookup(fs_futuremap *fm, uint64_t page, uint64_t succ);
/* Put succ into page's map (creating the map), returning its ordinal.  If succ is
 * already there, returns its ordinal.  0 only on allocation failure. */
uint32_t fs_fm_insert(fs_futuremap *fm, uint64_t page, uint64_t succ);
/* The page in slot `ordinal` of page's map, or FS_NOPAGE.  Read-only: predictions do
 * not change replacement state. */
uint64_t fs_fm_slot(const fs_futuremap *fm, uint64_t page, uint32_t ordinal);

/* All K slots of page's map (FS_NOPAGE where empty), or NULL if page has no map; valid
 * until the next insert.  One index lookup for a prediction step that weighs every
 * ordinal. */
const uint64_t *fs_fm_slots(const fs_futuremap *fm, uint64_t page);
/* A counter that changes whenever fs_fm_slot may answer differently than before (a
 * slot filled or replaced, a map dropped); lookups that only refresh recency leave it.
 * The predictor keeps a lookahead chain across events while it is unchanged. */
uint64_t fs_fm_generation(const fs_futuremap *fm);

uint64_t fs_fm_bytes(const fs_futuremap *fm);
void fs_fm_get_stats(const fs_futuremap *fm, fs_fm_stats *out);
const char *fs_fm_replace_name(int replace);
int fs_fm_replace_parse(const char *name); /* -1 if unknown */

#endif
