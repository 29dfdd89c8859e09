/*
 * arena.c - the address-space allocator of the far-memory arena.
 *
 * The arena is reserved and registered with userfaultfd once, at start (a few large
 * registrations, not one per allocation: UMap ran out of registrations at ~950
 * regions).  fs_alloc carves page runs out of it: first fit over an address-ordered
 * array of free extents, with coalescing on free, and a bump pointer for space never
 * used.  Allocation is the rare path (jemalloc asks for large extents and retains
 * them), so one mutex is enough; the fault path never takes it.
 *
 * Freeing discards the pages first (through the pager, which owns page states), so a
 * block handed out again reads as zeros, like fresh anonymous memory.
 */
#include "runtime/runtime.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>

struct fs_extent {
	uint64_t page, npages;
};

int fs_arena_init(fs_runtime *rt)
{
	pthread_mutex_init(&rt->alloc_mu, NULL);
	rt->cap_free_ext = 1 << 20;
	rt->free_ext = fs_sys_mmap(NULL, rt->cap_free_ext * sizeof(struct fs_extent),
				   PROT_READ | PROT_WRITE,
				   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (rt->free_ext == MAP_FAILED) {
		rt->free_ext = NULL;
		return FS_ENOMEM;
	}
	rt->n_free_ext = 0;
	atomic_store(&rt->bump, 0);
	return FS_OK;
}

void fs_arena_fini(fs_runtime *rt)
{
	if (rt->free_ext)
		fs_sys_munmap(rt->free_ext, rt->cap_free_ext * sizeof(struct fs_extent));
	pthread_mutex_destroy(&rt->alloc_mu);
}

int fs_arena_lock(fs_runtime *rt, int nowait)
{
	if (!nowait) {
		pthread_mutex_lock(&rt->alloc_mu);
		return FS_OK;
	}
	/* A fork's prepare makes fork_seq odd before it takes the lock, so a holder
	 * that is a fork is always seen; any other holder lets go in microseconds. */
	while (pthread_mutex_trylock(&rt->alloc_mu)) {
		if (atomic_load(&rt->fork_seq) & 1)
			return FS_EAGAIN;
		sched_yield();
	}
	return FS_OK;
}

static void *arena_alloc(fs_runtime *rt, size_t bytes, size_t align, int nowait)
{
	if (!rt || bytes == 0) {
		errno = EINVAL;
		return NULL;
	}
	if (align < FS_PAGE_SIZE)
		align = FS_PAGE_SIZE;
	if (align & (align - 1)) {
		errno = EINVAL;
		return NULL;
	}
	uint64_t n = (bytes + FS_PAGE_SIZE - 1) / FS_PAGE_SIZE;
	uint64_t amask = align / FS_PAGE_SIZE - 1;
	uint64_t base_page = (uint64_t)(uintptr_t)rt->app / FS_PAGE_SIZE;
	uint64_t found = UINT64_MAX;

	if (fs_arena_lock(rt, nowait)) {
		errno = EAGAIN;
		return NULL;
	}
	for (size_t i = 0; i < rt->n_free_ext; i++) {
		struct fs_extent *e = &rt->free_ext[i];
		/* Alignment is of the virtual address, so align base_page + page. */
		uint64_t start = ((base_page + e->page + amask) & ~amask) - base_page;
		if (start + n > e->page + e->npages)
			continue;
		found = start;
		uint64_t head = start - e->page, tail = e->page + e->npages - (start + n);
		if (head && tail) {
			if (rt->n_free_ext == rt->cap_free_ext)
				continue; /* cannot split: try another extent */
			memmove(e + 2, e + 1, (rt->n_free_ext - i - 1) * sizeof(*e));
			rt->n_free_ext++;
			e[0].npages = head;
			e[1].page = start + n;
			e[1].npages = tail;
		} else if (head) {
			e->npages = head;
		} else if (tail) {
			e->page = start + n;
			e->npages = tail;
		} else {
			memmove(e, e + 1, (rt->n_free_ext - i - 1) * sizeof(*e));
			rt->n_free_ext--;
		}
		break;
	}
	if (found == UINT64_MAX) {
		uint64_t bump = atomic_load(&rt->bump);
		uint64_t start = ((base_page + bump + amask) & ~amask) - base_page;
		if (start + n <= rt->npages) {
			found = start;
			if (start > bump && rt->n_free_ext < rt->cap_free_ext) {
				/* Keep the alignment gap usable. */
				rt->free_ext[rt->n_free_ext].page = bump;
				rt->free_ext[rt->n_free_ext].npages = start - bump;
				rt->n_free_ext++;
			}
			atomic_store(&rt->bump, start + n);
		}
	}
	pthread_mutex_unlock(&rt->alloc_mu);
	if (found == UINT64_MAX) {
		errno = ENOMEM;
		return NULL;
	}
	return rt->app + found * FS_PAGE_SIZE;
}

void *fs_alloc_aligned(fs_runtime *rt, size_t bytes, size_t align)
{
	return arena_alloc(rt, bytes, align, 0);
}

void *fs_arena_alloc_nowait(fs_runtime *rt, size_t bytes, size_t align)
{
	return arena_alloc(rt, bytes, align, 1);
}

void *fs_alloc(fs_runtime *rt, size_t bytes)
{
	return fs_alloc_aligned(rt, bytes, FS_PAGE_SIZE);
}

/* Return pages to the free list (their contents were already discarded); the caller
 * holds the allocator's lock (fs_arena_lock). */
void fs_arena_release_locked(fs_runtime *rt, uint64_t page, uint64_t npages)
{
	struct fs_extent *v = rt->free_ext;
	size_t n = rt->n_free_ext, lo = 0, hi = n;
	while (lo < hi) { /* first extent with v[i].page > page */
		size_t mid = (lo + hi) / 2;
		if (v[mid].page <= page)
			lo = mid + 1;
		else
			hi = mid;
	}
	size_t i = lo;
	int merge_prev = i > 0 && v[i - 1].page + v[i - 1].npages == page;
	int merge_next = i < n && page + npages == v[i].page;
	if (merge_prev && merge_next) {
		v[i - 1].npages += npages + v[i].npages;
		memmove(&v[i], &v[i + 1], (n - i - 1) * sizeof(*v));
		rt->n_free_ext--;
	} else if (merge_prev) {
		v[i - 1].npages += npages;
	} else if (merge_next) {
		v[i].page = page;
		v[i].npages += npages;
	} else if (n < rt->cap_free_ext) {
		memmove(&v[i + 1], &v[i], (n - i) * sizeof(*v));
		v[i].page = page;
		v[i].npages = npages;
		rt->n_free_ext++;
	} /* else: the free list is full; the range is leaked (1M extents: never in practice) */
	/* Give the tail back to the bump pointer, so a free-then-alloc cycle does not
	 * walk the arena upwards. */
	n = rt->n_free_ext;
	if (n && v[n - 1].page + v[n - 1].npages == atomic_load(&rt->bump)) {
		atomic_store(&rt->bump, v[n - 1].page);
		rt->n_free_ext--;
	}
}

int fs_contains(const fs_runtime *rt, const void *addr)
{
	const char *p = addr;
	return rt && p >= rt->app && p < rt->app + rt->npages * FS_PAGE_SIZE;
}

void fs_arena_range(const fs_runtime *rt, void **base, size_t *size)
{
	*base = rt->app;
	*size = rt->npages * FS_PAGE_SIZE;
}
