/*
 * pageops.c - the kernel side of the page transitions (page.h's fs_page_ops) on the
 * real arena: userfaultfd ioctls on the program's view, madvise, holes punched in the
 * arena memfd (through the alias mapping), and write-backs to the backend.  Each either succeeds or ends the
 * process through fs_pager_fatal: a page the kernel would not map or release leaves
 * the program's memory in a state no one could repair.
 *
 * Fork without exec (fork.c) hooks in here, where page contents are read, changed or
 * dropped: a parent copies a page still owed to a forked child out to it before
 * mapping it writable, lifting its write protection or releasing it; a forked child
 * takes an inherited page from its parent before mapping or writing it back, and
 * stops the parent owing it before releasing it.
 */
#include "runtime/runtime.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/userfaultfd.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#ifndef UFFDIO_CONTINUE_MODE_WP
#define UFFDIO_CONTINUE_MODE_WP ((__u64)1 << 1)
#endif

static uint64_t app_addr(const fs_runtime *rt, uint64_t page)
{
	return (uint64_t)(uintptr_t)rt->app + page * FS_PAGE_SIZE;
}

/* One UFFDIO_CONTINUE for the run (a run of prefetched pages mapped on arrival costs
 * one system call, not n).  EEXIST means a racing thread's fault already mapped a
 * page; EAGAIN means the address space is changing: retry (both are normal, see
 * peers.md).  A run that fails part-way is redone page by page, where EEXIST then
 * marks the pages already done. */
static void op_map(void *ctx, uint64_t page, uint64_t n, int writable)
{
	fs_runtime *rt = ctx;
	for (uint64_t k = 0; k < n; k++) {
		fs_fork_take(rt, page + k, 1);
		if (writable)
			fs_fork_copy_out(rt, page + k);
	}
	struct uffdio_continue c = {
		.range = { .start = app_addr(rt, page), .len = n * FS_PAGE_SIZE },
		.mode = (rt->have_wp && !writable) ? UFFDIO_CONTINUE_MODE_WP : 0,
	};
	for (int tries = 0;; tries++) {
		if (ioctl(rt->uffd, UFFDIO_CONTINUE, &c) == 0 || (n == 1 && errno == EEXIST))
			return;
		if (errno == EAGAIN && tries < 1000) {
			c.mapped = 0;
			continue;
		}
		if (n > 1) {
			for (uint64_t k = 0; k < n; k++)
				op_map(ctx, page + k, 1, writable);
			return;
		}
		fs_pager_fatal(rt, "UFFDIO_CONTINUE of page %llu failed: %s",
			       (unsigned long long)page, strerror(errno));
	}
}

/* MADV_DONTNEED on the shared mapping: the page cache keeps the pages. */
static void op_unmap(void *ctx, uint64_t page, uint64_t n)
{
	fs_runtime *rt = ctx;
	if (fs_sys_madvise((void *)(uintptr_t)app_addr(rt, page), n * FS_PAGE_SIZE, MADV_DONTNEED))
		fs_pager_fatal(rt, "unmapping pages %llu+%llu for the clock: %s",
			       (unsigned long long)page, (unsigned long long)n, strerror(errno));
}

static void op_protect(void *ctx, uint64_t page, uint64_t n)
{
	fs_runtime *rt = ctx;
	if (!rt->have_wp) { /* a touch now raises a minor fault that waits for the pager */
		op_unmap(ctx, page, n);
		return;
	}
	struct uffdio_writeprotect wp = { .range = { app_addr(rt, page), n * FS_PAGE_SIZE },
					  .mode = UFFDIO_WRITEPROTECT_MODE_WP };
	if (ioctl(rt->uffd, UFFDIO_WRITEPROTECT, &wp))
		fs_pager_fatal(rt, "UFFDIO_WRITEPROTECT of pages %llu+%llu: %s",
			       (unsigned long long)page, (unsigned long long)n, strerror(errno));
}

/* Un-protecting wakes the writer.  It also drops any uffd-wp marker a zap left, so a
 * retry on a page evicted meanwhile takes a normal MISSING fault, not this one again. */
static void op_unprotect(void *ctx, uint64_t page)
{
	fs_runtime *rt = ctx;
	fs_fork_copy_out(rt, page); /* the write that faulted is about to happen */
	struct uffdio_writeprotect wp = { .range = { app_addr(rt, page), FS_PAGE_SIZE }, .mode = 0 };
	if (ioctl(rt->uffd, UFFDIO_WRITEPROTECT, &wp))
		fs_pager_fatal(rt, "UFFDIO_WRITEPROTECT (clear) of page %llu: %s",
			       (unsigned long long)page, strerror(errno));
}

/* The backend takes the bytes when submit_write returns, so the frame may be released
 * right after.  A full queue is the caller's to handle (drain, then call again). */
_Static_assert(FS_PAGE_WRITE_MAX <= FS_IO_MAX_PAGES, "a write-back is one backend request");
static int op_write_back(void *ctx, uint64_t page, uint64_t n)
{
	fs_runtime *rt = ctx;
	for (uint64_t k = 0; k < n; k++)
		fs_fork_take(rt, page + k, 1);
	fs_io io = { .page = page,
		     .npages = (uint32_t)n,
		     .flags = FS_IO_WRITEBACK,
		     .buf = rt->alias + page * FS_PAGE_SIZE,
		     .tag = UINT64_MAX };
	int rc = rt->be->ops->submit_write(rt->be, &io, 1);
	if (rc < 0)
		fs_pager_fatal(rt, "far-memory backend '%s' failed to write back pages %llu+%llu: %s",
			       rt->be->ops->name, (unsigned long long)page, (unsigned long long)n,
			       rt->be->errmsg[0] ? rt->be->errmsg : fs_strerror(rc));
	if (rc == 0)
		return FS_EFULL;
	atomic_fetch_add_explicit(&rt->c.far_bytes_written, n * FS_PAGE_SIZE, memory_order_relaxed);
	return FS_OK;
}

/* The hole is punched through the runtime's own mapping (MADV_REMOVE on the alias is
 * fallocate(PUNCH_HOLE) on the memfd behind it), not through the memfd's descriptor:
 * a descriptor number can be taken over by the program with a raw dup2, a mapping
 * cannot, so a release can never punch a hole into the program's own file. */
static void op_release(void *ctx, uint64_t page, uint64_t n)
{
	fs_runtime *rt = ctx;
	for (uint64_t k = 0; k < n; k++) {
		fs_fork_copy_out(rt, page + k);
		fs_fork_take(rt, page + k, 0);
	}
	if (fs_sys_madvise(rt->alias + page * FS_PAGE_SIZE, n * FS_PAGE_SIZE, MADV_REMOVE))
		fs_pager_fatal(rt, "releasing local pages %llu+%llu (MADV_REMOVE): %s",
			       (unsigned long long)page, (unsigned long long)n, strerror(errno));
}

/* Writing the alias allocates the shmem page; the map that follows installs it. */
static void op_zero(void *ctx, uint64_t page)
{
	fs_runtime *rt = ctx;
	memset(rt->alias + page * FS_PAGE_SIZE, 0, FS_PAGE_SIZE);
}

static void op_forget(void *ctx, uint64_t page, uint64_t n)
{
	fs_runtime *rt = ctx;
	rt->be->ops->discard(rt->be, page, n);
}

const fs_page_ops fs_arena_page_ops = {
	.map = op_map,
	.unmap = op_unmap,
	.protect = op_protect,
	.unprotect = op_unprotect,
	.write_back = op_write_back,
	.release = op_release,
	.zero = op_zero,
	.forget = op_forget,
};
