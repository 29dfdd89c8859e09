/*
 * mmap.c - private anonymous mappings of a preloaded program, served from far memory.
 *
 * Programs that bring their own allocator (Python's obmalloc arenas, Go-style heaps,
 * databases' page caches) get their heap from mmap, not malloc, so mmap is interposed
 * too, as kernel swap covers every anonymous page.  A mapping is far when it is
 *   MAP_PRIVATE | MAP_ANONYMOUS, read-write, at least local_threshold bytes,
 *   without MAP_FIXED (the caller owns that address), MAP_STACK / MAP_GROWSDOWN (stacks
 *   stay local), MAP_HUGETLB, MAP_32BIT, and the caller may use far memory
 *   (shim_far_ok: not the runtime, not jemalloc, not a forked child).
 * A far reservation is an arena block made PROT_NONE: committing part of it with
 * mmap(MAP_FIXED, anonymous) is a discard plus mprotect (below), with mprotect it is the
 * kernel's own mprotect on the arena mapping (the userfaultfd registration survives the
 * split), and munmap gives it back read-write.  Small PROT_NONE mappings (guards) stay
 * local.
 *
 * Far mappings are recorded in a table of page ranges (in raw mmap'd memory, never
 * malloc), so that munmap, madvise and mremap on them are translated exactly once:
 *   munmap(part)                      -> fs_free of the recorded pages in the range
 *   madvise(DONTNEED | REMOVE)        -> fs_discard of the range (reads as zeros
 *                                        afterwards, malloc'd memory too, as the kernel)
 *   madvise(FREE)                     -> fs_discard of the recorded pages in the range
 *   madvise(anything else)            -> accepted and ignored (advice only)
 *   mremap shrink                     -> fs_free of the tail, same address
 *   mremap grow                       -> new far block, copy, free the old one
 *                                        (MREMAP_MAYMOVE only; else ENOMEM, as the
 *                                        kernel answers when it cannot grow in place)
 *   mprotect                          -> passed through (it is not interposed)
 * Addresses inside the arena that are not recorded (jemalloc's far extents) are left
 * alone by munmap and madvise(FREE): a program unmapping malloc'd memory is a bug we do
 * not let corrupt the arena.  Everything else goes to the kernel with raw system calls.
 */
#include "preload/shim.h"
#include "runtime/report.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif

struct range {
	uintptr_t start, end; /* page-aligned, [start, end) */
};

/* Sorted, non-overlapping.  Capacity is virtual (MAP_NORESERVE); pages are only
 * touched as the table grows. */
#define TABLE_CAP (1u << 20)
static struct range *table;
static size_t n_ranges;
static pthread_mutex_t table_mu = PTHREAD_MUTEX_INITIALIZER;

static uintptr_t page_up(uintptr_t x)
{
	return (x + FS_PAGE_SIZE - 1) & ~(uintptr_t)(FS_PAGE_SIZE - 1);
}

static int table_ready(void)
{
	if (!table) {
		void *t = fs_sys_mmap(NULL, TABLE_CAP * sizeof(struct range),
				      PROT_READ | PROT_WRITE,
				      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (t == MAP_FAILED)
			return 0;
		table = t;
	}
	return 1;
}

/* First range with end > addr. */
static size_t table_find(uintptr_t addr)
{
	size_t lo = 0, hi = n_ranges;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (table[mid].end <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static int table_insert(uintptr_t start, uintptr_t end)
{
	if (!table_ready() || n_ranges == TABLE_CAP)
		return -1;
	size_t i = table_find(start);
	memmove(&table[i + 1], &table[i], (n_ranges - i) * sizeof(*table));
	table[i].start = start;
	table[i].end = end;
	n_ranges++;
	return 0;
}

/* Remove [start, end) from the table; call fn on every recorded piece.  Returns the
 * number of bytes that were recorded. */
static size_t table_remove(uintptr_t start, uintptr_t end, int (*fn)(fs_runtime *, void *, size_t))
{
	size_t done = 0;
	size_t i = table_find(start);
	while (i < n_ranges && table[i].start < end) {
		struct range r = table[i];
		uintptr_t a = r.start > start ? r.start : start;
		uintptr_t b = r.end < end ? r.end : end;
		if (fn)
			fn(fs_shim.rt, (void *)a, b - a);
		done += b - a;
		if (a > r.start && b < r.end) { /* a hole in the middle: split */
			if (n_ranges == TABLE_CAP)
				return done; /* cannot record the split: keep the whole range */
			memmove(&table[i + 1], &table[i], (n_ranges - i) * sizeof(*table));
			n_ranges++;
			table[i].end = a;
			table[i + 1].start = b;
			return done;
		} else if (a > r.start) {
			table[i].end = a;
			i++;
		} else if (b < r.end) {
			table[i].start = b;
			return done;
		} else {
			memmove(&table[i], &table[i + 1], (n_ranges - i - 1) * sizeof(*table));
			n_ranges--;
		}
	}
	return done;
}

/* Is [start, end) entirely recorded? */
static int table_covers(uintptr_t start, uintptr_t end)
{
	size_t i = table_find(start);
	while (start < end) {
		if (i >= n_ranges || table[i].start > start)
			return 0;
		start = table[i].end;
		i++;
	}
	return 1;
}

static int overlaps_arena(uintptr_t a, size_t len)
{
	return fs_shim.size && a < fs_shim.base + fs_shim.size && a + len > fs_shim.base;
}

/* Give a far range back to the arena, PROT_NONE: a touch of memory the program has
 * unmapped is SIGSEGV, as without farsight, until the arena hands the range out again
 * (shim_far_rw: far_map, and malloc.c's extent hook).  Made PROT_NONE before it is
 * freed: once it is free, another thread may be given it. */
static _Atomic int any_none; /* set once a range was freed PROT_NONE */

static int free_far(fs_runtime *rt, void *addr, size_t len)
{
	atomic_store(&any_none, 1);
	syscall(SYS_mprotect, addr, len, PROT_NONE);
	return fs_free(rt, addr, len);
}

/* mprotect takes the address space's lock for writing, which stalls every fault of
 * the program meanwhile: a program that never unmapped far memory pays nothing. */
void shim_far_rw(void *p, size_t len)
{
	if (atomic_load_explicit(&any_none, memory_order_relaxed))
		syscall(SYS_mprotect, p, page_up(len), PROT_READ | PROT_WRITE);
}

/* ---- the interposed functions --------------------------------------------------- */

static void *far_map(size_t len)
{
	fs_shim_busy++;
	void *p = fs_alloc(fs_shim.rt, len);
	fs_shim_busy--;
	if (!p) {
		shim_far_full(len);
		return NULL;
	}
	shim_far_rw(p, len);
	uintptr_t s = (uintptr_t)p, e = s + page_up(len);
	pthread_mutex_lock(&table_mu);
	int rc = table_insert(s, e);
	pthread_mutex_unlock(&table_mu);
	if (rc) { /* the table is full: this mapping stays local after all */
		fs_shim_busy++;
		fs_free(fs_shim.rt, p, len);
		fs_shim_busy--;
		return NULL;
	}
	return p;
}

/* A reservation: address space a runtime maps PROT_NONE and later commits piece by
 * piece with mmap(MAP_FIXED) or mprotect (the JVM's heap, Go's and V8's arenas).  Large
 * ones are served from far memory, so what is committed inside them is far. */
#define RESERVE_MIN (1u << 20)

/* Should this mapping be far?  If not, and the program asked (not the runtime or
 * jemalloc), count it by reason (for `farsight run`'s "stayed local" line). */
static int wants_far(void *addr, size_t len, int prot, int flags, int fd)
{
	if (!shim_far_ok() || len == 0 || !(flags & MAP_ANONYMOUS))
		return 0;
	int reason = -1;
	if ((flags & MAP_TYPE) != MAP_PRIVATE)
		reason = FS_LOCAL_SHARED;
	else if (flags & (MAP_STACK | MAP_GROWSDOWN | MAP_HUGETLB | MAP_32BIT))
		return 0; /* stacks and special memory: the kernel's, by design */
	else if (flags & (MAP_FIXED | MAP_FIXED_NOREPLACE))
		reason = FS_LOCAL_FIXED;
	else if (len < fs_shim.local_threshold)
		reason = FS_LOCAL_THRESHOLD;
	else if (prot == (PROT_READ | PROT_WRITE))
		return 1;
	else if (prot == PROT_NONE && len >= RESERVE_MIN && !addr)
		return 1; /* a reservation */
	else if (prot == PROT_NONE && len >= RESERVE_MIN)
		reason = FS_LOCAL_HINT; /* at an address of the program's choosing: V8 (Node)
					 * aborts when its cages are not where it asked */
	else
		reason = FS_LOCAL_RESERVE;
	fs_report_local(fs_shim.rt, reason, len);
	return 0;
}

void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	if (wants_far(addr, len, prot, flags, fd)) {
		void *p = far_map(len);
		if (p && prot == PROT_NONE && syscall(SYS_mprotect, p, page_up(len), PROT_NONE)) {
			munmap(p, len);
			p = NULL;
		}
		if (p)
			return p;
		/* Far memory is full (said once, far_map): local memory is still memory. */
	}
	if ((flags & (MAP_FIXED | MAP_FIXED_NOREPLACE)) && overlaps_arena((uintptr_t)addr, len) &&
	    !fs_shim_busy && !fs_thread_is_runtime && !fs_shim.forked_child) {
		/* Mapping over part of the arena would cut the runtime's registration.  The
		 * one legal case is fresh anonymous memory over a far mapping of the
		 * caller's own: that is a discard. */
		uintptr_t s = (uintptr_t)addr, e = page_up(s + len);
		pthread_mutex_lock(&table_mu);
		int own = table_covers(s, e);
		pthread_mutex_unlock(&table_mu);
		if (own && (flags & MAP_ANONYMOUS) && (flags & MAP_TYPE) == MAP_PRIVATE &&
		    !(flags & MAP_FIXED_NOREPLACE)) {
			fs_shim_busy++;
			int rc = fs_discard(fs_shim.rt, addr, e - s);
			fs_shim_busy--;
			if (rc == 0 && syscall(SYS_mprotect, addr, e - s, prot) == 0)
				return addr;
		}
		errno = (flags & MAP_FIXED_NOREPLACE) ? EEXIST : ENOMEM;
		return MAP_FAILED;
	}
	return fs_sys_mmap(addr, len, prot, flags, fd, off);
}
void *mmap64(void *addr, size_t len, int prot, int flags, int fd, off_t off)
	__attribute__((alias("mmap")));

int munmap(void *addr, size_t len)
{
	uintptr_t s = (uintptr_t)addr;
	if (fs_shim.size && !fs_shim_busy && overlaps_arena(s, len)) {
		if (s & (FS_PAGE_SIZE - 1) || len == 0) {
			errno = EINVAL;
			return -1;
		}
		uintptr_t e = page_up(s + len);
		/* In a forked child the arena is not mapped at all: forget, do not free. */
		int (*fn)(fs_runtime *, void *, size_t) = fs_shim.forked_child ? NULL : free_far;
		fs_shim_busy++;
		pthread_mutex_lock(&table_mu);
		table_remove(s, e, fn);
		pthread_mutex_unlock(&table_mu);
		fs_shim_busy--;
		/* Parts outside the arena are the kernel's. */
		if (s < fs_shim.base)
			fs_sys_munmap(addr, fs_shim.base - s);
		if (e > fs_shim.base + fs_shim.size)
			fs_sys_munmap((void *)(fs_shim.base + fs_shim.size),
				      e - (fs_shim.base + fs_shim.size));
		return 0;
	}
	return fs_sys_munmap(addr, len);
}

int madvise(void *addr, size_t len, int advice)
{
	uintptr_t s = (uintptr_t)addr;
	if (fs_shim.size && !fs_shim_busy && !fs_thread_is_runtime && !fs_shim.forked_child &&
	    overlaps_arena(s, len) &&
	    s >= fs_shim.base && s + len <= fs_shim.base + fs_shim.size) {
		if (s & (FS_PAGE_SIZE - 1)) {
			errno = EINVAL;
			return -1;
		}
		if (advice == MADV_DONTNEED || advice == MADV_REMOVE) {
			/* Private anonymous memory reads as zeros afterwards, malloc'd memory
			 * included (glibc's large blocks are mmap'd): so here too. */
			uintptr_t e = page_up(s + len);
			fs_shim_busy++;
			int rc = e > s ? fs_discard(fs_shim.rt, addr, e - s) : 0;
			fs_shim_busy--;
			if (rc) {
				errno = EINVAL;
				return -1;
			}
		} else if (advice == MADV_FREE) {
			/* The kernel may keep the data or drop it: drop it in what the caller
			 * mapped, leave jemalloc's ranges (the program's malloc'd objects, which
			 * MADV_FREE on them would make of undefined content) as they are. */
			uintptr_t e = page_up(s + len);
			fs_shim_busy++;
			pthread_mutex_lock(&table_mu);
			size_t i = table_find(s);
			for (; i < n_ranges && table[i].start < e; i++) {
				uintptr_t a = table[i].start > s ? table[i].start : s;
				uintptr_t b = table[i].end < e ? table[i].end : e;
				fs_discard(fs_shim.rt, (void *)a, b - a);
			}
			pthread_mutex_unlock(&table_mu);
			fs_shim_busy--;
		}
		return 0; /* other advice (WILLNEED, HUGEPAGE, ...) is only advice */
	}
	return (int)syscall(SYS_madvise, addr, len, advice);
}

void *mremap(void *old, size_t old_len, size_t new_len, int flags, ...)
{
	void *fixed = NULL;
	if (flags & MREMAP_FIXED) {
		va_list ap;
		va_start(ap, flags);
		fixed = va_arg(ap, void *);
		va_end(ap);
	}
	uintptr_t s = (uintptr_t)old;
	if (!fs_shim.size || fs_shim_busy || !overlaps_arena(s, old_len ? old_len : 1))
		return (void *)syscall(SYS_mremap, old, old_len, new_len, flags, fixed);

	if (fs_shim.forked_child) {
		errno = EFAULT;
		return MAP_FAILED;
	}
	uintptr_t old_e = page_up(s + old_len), new_e = page_up(s + new_len);
	pthread_mutex_lock(&table_mu);
	int own = (s & (FS_PAGE_SIZE - 1)) == 0 && old_len && table_covers(s, old_e);
	pthread_mutex_unlock(&table_mu);
	if (!own || new_len == 0 || (flags & MREMAP_FIXED)) {
		/* Not a far mapping of the caller's, or a move to a chosen address, which
		 * far memory cannot honour. */
		errno = own ? ENOMEM : EFAULT;
		return MAP_FAILED;
	}
	if (new_e <= old_e) {
		if (new_e < old_e)
			munmap((void *)new_e, old_e - new_e);
		return old;
	}
	if (!(flags & MREMAP_MAYMOVE)) {
		errno = ENOMEM;
		return MAP_FAILED;
	}
	void *p = far_map(new_len);
	if (!p) {
		errno = ENOMEM;
		return MAP_FAILED;
	}
	memcpy(p, old, old_len);
	munmap(old, old_len);
	return p;
}

/* Fork: hold the table lock across fork so the child never sees it half-changed. */
void shim_mmap_atfork_prepare(void)
{
	pthread_mutex_lock(&table_mu);
}

void shim_mmap_atfork_parent(void)
{
	pthread_mutex_unlock(&table_mu);
}

void shim_mmap_atfork_child(void)
{
	pthread_mutex_init(&table_mu, NULL);
}
