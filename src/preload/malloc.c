/*
 * malloc.c - the malloc family of a preloaded program, served by jemalloc.
 *
 * Every malloc-family symbol of the program (and of libc and libstdc++, whose operator
 * new calls malloc) resolves here first.  Each call goes to one of two places:
 *
 *   local  jemalloc's automatic arenas, with its thread caches: requests smaller than
 *          local_threshold, everything before the runtime runs, everything from the
 *          runtime's own threads, from inside the shim, and in a forked child;
 *   far    a few jemalloc arenas created with our extent hooks (below), whose pages
 *          come from the far-memory arena (fs_alloc_aligned) and go back to it
 *          (fs_free, fs_discard).  These calls bypass the thread cache
 *          (MALLOCX_TCACHE_NONE): a thread cache mixes objects of all arenas by size
 *          class, so a far object freed into it could later be handed to the pager
 *          thread as "local" memory, and the pager must never touch far memory.
 *
 * free() and realloc() tell the two apart by address (far objects lie in the arena's
 * address range); jemalloc finds the owning arena itself.
 *
 * Why only jemalloc's unprefixed *allocx API is used: Debian's libjemalloc exports
 * malloc/free too, but those names resolve to this file, so calling them would recurse.
 *
 * jemalloc keeps per-arena metadata (its "base") in memory it gets from the arena's
 * extent hooks.  That metadata must stay local: jemalloc's fork handlers write to it in
 * the child, where far memory is gone.  jemalloc asks for base blocks with huge-page
 * alignment and for data with page alignment (extent_grow_retained, opt.retain is on
 * for Linux), which is how the alloc hook tells them apart.
 */
#include "preload/shim.h"
#include "runtime/runtime.h"

#include <errno.h>
#include <jemalloc/jemalloc.h>
#include <stdbool.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#define HUGE_ALIGN (2u << 20)
#define N_FAR_ARENAS 4

static unsigned far_arena[N_FAR_ARENAS];
static __thread int my_far_flags FS_SHIM_TLS; /* 0 = not chosen yet */
static _Atomic unsigned next_arena;

__thread int fs_shim_busy FS_SHIM_TLS;

/* ---- extent hooks of the far arenas --------------------------------------------- */

/* Local memory for jemalloc's metadata, aligned: map more, trim both ends. */
static void *local_map_aligned(size_t size, size_t align)
{
	size_t len = size + align;
	char *p = fs_sys_mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			      -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	char *a = (char *)(((uintptr_t)p + align - 1) & ~(uintptr_t)(align - 1));
	if (a > p)
		fs_sys_munmap(p, (size_t)(a - p));
	if (a + size < p + len)
		fs_sys_munmap(a + size, (size_t)(p + len - (a + size)));
	return a;
}

static void *hook_alloc(extent_hooks_t *h, void *new_addr, size_t size, size_t align,
			bool *zero, bool *commit, unsigned ind)
{
	void *p;
	if (new_addr)
		return NULL; /* growing in place at a given address: jemalloc then moves */
	if (align >= HUGE_ALIGN && size % HUGE_ALIGN == 0) {
		p = local_map_aligned(size, align); /* a metadata (base) block */
	} else {
		p = fs_arena_alloc_nowait(fs_shim.rt, size, align < FS_PAGE_SIZE ? FS_PAGE_SIZE : align);
		if (p)
			shim_far_rw(p, size); /* a range the program unmapped is PROT_NONE */
	}
	if (!p)
		return NULL;
	*zero = true;   /* fresh arena pages and fresh anonymous pages read as zeros */
	*commit = true;
	return p;
}

/* Give a range back: far ranges to the arena, local (metadata) ranges to the kernel. */
static bool hook_dalloc(extent_hooks_t *h, void *addr, size_t size, bool committed,
			unsigned ind)
{
	if (shim_in_arena(addr))
		return fs_free_nowait(fs_shim.rt, addr, size) != 0; /* EAGAIN: jemalloc keeps it */
	return fs_sys_munmap(addr, size) != 0;
}

static void hook_destroy(extent_hooks_t *h, void *addr, size_t size, bool committed,
			 unsigned ind)
{
	hook_dalloc(h, addr, size, committed, ind);
}

/* Purge and decommit both drop the contents: the pages read as zeros afterwards
 * (jemalloc then knows the range is zeroed), and their far copies are dropped. */
static bool hook_purge(extent_hooks_t *h, void *addr, size_t size, size_t off, size_t len,
		       unsigned ind)
{
	char *p = (char *)addr + off;
	if (shim_in_arena(p))
		return fs_discard_nowait(fs_shim.rt, p, len) != 0;
	return syscall(SYS_madvise, p, len, MADV_DONTNEED) != 0;
}

static bool hook_commit(extent_hooks_t *h, void *addr, size_t size, size_t off, size_t len,
			unsigned ind)
{
	return false; /* pages are always accessible */
}

static bool hook_split(extent_hooks_t *h, void *addr, size_t size, size_t a, size_t b,
		       bool committed, unsigned ind)
{
	return false; /* fs_free takes any page range, so any split is fine */
}

static bool hook_merge(extent_hooks_t *h, void *a, size_t sa, void *b, size_t sb,
		       bool committed, unsigned ind)
{
	/* Never merge far with local (metadata) ranges; anything else can be merged. */
	return shim_in_arena(a) != shim_in_arena(b);
}

static extent_hooks_t far_hooks = {
	.alloc = hook_alloc,
	.dalloc = hook_dalloc,
	.destroy = hook_destroy,
	.commit = hook_commit,
	.decommit = hook_purge,
	.purge_lazy = hook_purge,
	.purge_forced = hook_purge,
	.split = hook_split,
	.merge = hook_merge,
};

int shim_malloc_init(char *err, size_t errlen)
{
	for (int i = 0; i < N_FAR_ARENAS; i++) {
		extent_hooks_t *hooks = &far_hooks;
		size_t sz = sizeof(unsigned);
		fs_shim_busy++;
		int rc = mallctl("arenas.create", &far_arena[i], &sz, &hooks, sizeof(hooks));
		fs_shim_busy--;
		if (rc) {
			fs_errf(err, errlen, "jemalloc could not create a far-memory arena: %s",
				strerror(rc));
			return -1;
		}
	}
	return 0;
}

/* ---- choosing local or far ------------------------------------------------------ */

static inline int far_flags(void)
{
	if (!my_far_flags) {
		/* Spread threads over the far arenas: no thread cache means every far call
		 * takes an arena lock, so one arena would serialise all threads. */
		unsigned i = atomic_fetch_add(&next_arena, 1) % N_FAR_ARENAS;
		my_far_flags = MALLOCX_ARENA(far_arena[i]) | MALLOCX_TCACHE_NONE;
	}
	return my_far_flags;
}

/* Flags for a new request of n bytes: 0 = local (jemalloc's defaults). */
static inline int flags_for(size_t n)
{
	if (n < fs_shim.local_threshold || !shim_far_ok())
		return 0;
	return far_flags();
}

/* Flags for releasing or resizing p: far objects never enter a thread cache. */
static inline int flags_of(const void *p)
{
	return shim_in_arena(p) ? MALLOCX_TCACHE_NONE : 0;
}

/* A far request that failed while a fork was under way (the hooks gave up, see
 * runtime.h's fs_arena_alloc_nowait) is tried again once the fork is done. */
static int retry_far(int flags, unsigned seq)
{
	return (flags & MALLOCX_TCACHE_NONE) && fs_shim.rt && fs_fork_wait(fs_shim.rt, seq);
}

static unsigned fork_seq(void)
{
	return fs_shim.rt ? atomic_load(&fs_shim.rt->fork_seq) : 0;
}

/* A far request far memory has no room for (its arena is full): local memory. */
static void *local_instead(size_t n, int extra)
{
	shim_far_full(n);
	fs_shim_busy++;
	void *p = mallocx(n, extra);
	fs_shim_busy--;
	return p;
}

static void *alloc(size_t n, int extra)
{
	int flags = flags_for(n) | extra;
	void *p;
	unsigned seq;
	do {
		seq = fork_seq();
		fs_shim_busy++;
		p = mallocx(n ? n : 1, flags);
		fs_shim_busy--;
	} while (!p && retry_far(flags, seq));
	if (!p && (flags & MALLOCX_TCACHE_NONE))
		p = local_instead(n ? n : 1, extra);
	if (!p)
		errno = ENOMEM;
	return p;
}

/* ---- the interposed functions --------------------------------------------------- */

void *malloc(size_t n)
{
	return alloc(n, 0);
}

void free(void *p)
{
	if (!p)
		return;
	if (shim_in_arena(p) && fs_shim.forked_child)
		return; /* far memory has no pager in a forked child: leak it, never touch it */
	fs_shim_busy++;
	dallocx(p, flags_of(p));
	fs_shim_busy--;
}

void *calloc(size_t n, size_t m)
{
	size_t bytes;
	if (__builtin_mul_overflow(n, m, &bytes)) {
		errno = ENOMEM;
		return NULL;
	}
	return alloc(bytes, MALLOCX_ZERO);
}

/* Move p's contents (up to n bytes) into the new block q and free p; nothing when q is
 * NULL (p stays as it was). */
static void move_block(void *p, void *q, size_t n)
{
	if (!q)
		return;
	fs_shim_busy++;
	size_t old = sallocx(p, 0);
	fs_shim_busy--;
	memcpy(q, p, old < n ? old : n);
	free(p);
}

void *realloc(void *p, size_t n)
{
	if (!p)
		return malloc(n);
	if (n == 0) { /* glibc's behaviour: free and return NULL */
		free(p);
		return NULL;
	}
	int want = flags_for(n);
	int is_far = shim_in_arena(p);
	void *q;
	unsigned seq;
	if ((want != 0) == is_far) {
		do {
			seq = fork_seq();
			fs_shim_busy++;
			q = rallocx(p, n, is_far ? want : 0);
			fs_shim_busy--;
		} while (!q && retry_far(is_far ? want : 0, seq));
	} else {
		/* Crossing between local and far (the threshold, a runtime thread, a forked
		 * child): a new block of the other kind, then copy. */
		do {
			seq = fork_seq();
			fs_shim_busy++;
			q = mallocx(n, want);
			fs_shim_busy--;
		} while (!q && retry_far(want, seq));
		move_block(p, q, n);
	}
	if (!q && want) /* far memory is full: move the block to local memory */
		move_block(p, q = local_instead(n, 0), n);
	if (!q)
		errno = ENOMEM;
	return q;
}

void *reallocarray(void *p, size_t n, size_t m)
{
	size_t bytes;
	if (__builtin_mul_overflow(n, m, &bytes)) {
		errno = ENOMEM;
		return NULL;
	}
	return realloc(p, bytes);
}

static int is_pow2(size_t a)
{
	return a && !(a & (a - 1));
}

int posix_memalign(void **out, size_t align, size_t n)
{
	if (!is_pow2(align) || align % sizeof(void *))
		return EINVAL;
	int saved = errno;
	void *p = alloc(n, MALLOCX_ALIGN(align));
	errno = saved; /* posix_memalign reports through its result, not errno */
	if (!p)
		return ENOMEM;
	*out = p;
	return 0;
}

void *aligned_alloc(size_t align, size_t n)
{
	if (!is_pow2(align)) {
		errno = EINVAL;
		return NULL;
	}
	return alloc(n, MALLOCX_ALIGN(align));
}

void *memalign(size_t align, size_t n)
{
	/* glibc rounds an alignment that is not a power of two up to one. */
	size_t a = sizeof(void *);
	while (a < align && a)
		a <<= 1;
	if (!a) {
		errno = EINVAL;
		return NULL;
	}
	return alloc(n, MALLOCX_ALIGN(a));
}

void *valloc(size_t n)
{
	return alloc(n, MALLOCX_ALIGN(FS_PAGE_SIZE));
}

void *pvalloc(size_t n)
{
	size_t r = (n + FS_PAGE_SIZE - 1) & ~(size_t)(FS_PAGE_SIZE - 1);
	if (r < n) {
		errno = ENOMEM;
		return NULL;
	}
	return alloc(r ? r : FS_PAGE_SIZE, MALLOCX_ALIGN(FS_PAGE_SIZE));
}

size_t malloc_usable_size(void *p)
{
	if (!p)
		return 0;
	fs_shim_busy++;
	size_t n = sallocx(p, 0);
	fs_shim_busy--;
	return n;
}
