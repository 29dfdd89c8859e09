/*
 * ra_window.h - the Linux swap readahead window, shared by the policies that size
 * their prefetch window like the kernel does (readahead, hermit, leap).  Internal.
 *
 * The window logic lives in readahead.c (see its top comment for the kernel code it
 * follows); this header only declares it so that Leap reuses it instead of copying it.
 */
#ifndef FS_RA_WINDOW_H
#define FS_RA_WINDOW_H

#include <stdint.h>

/* The readahead window, in pages including the faulting one, for a miss at `page`
 * (the kernel's __swapin_nr_pages): (hits + 2) rounded up to a power of two, 1 when
 * there were no hits and the miss is not adjacent to prev_page, capped at max_pages,
 * never less than half of *prev_win.  Resets *hits, stores the result in *prev_win. */
uint32_t fs_readahead_window(uint32_t *hits, uint32_t *prev_win, uint64_t prev_page,
			     uint64_t page, uint32_t max_pages);

/* The aligned block of `win` pages that contains `page` (swap_cluster_readahead's
 * cluster), without `page` itself, into out[0..max); returns the count. */
int fs_readahead_cluster(uint64_t page, uint32_t win, uint64_t *out, int max);

/* Smallest power of two >= v (v >= 1). */
uint32_t fs_pow2_ceil(uint32_t v);

#endif
