/*
 * backend.h - the far-memory backend interface (internal).
 *
 * A backend stores pages that are not local.  The pager talks to it asynchronously:
 * it submits batches of reads and writes of contiguous page runs and polls for
 * completions, so a demand read never waits behind a prefetch the backend could
 * reorder (backends serve FS_IO_DEMAND reads first where they queue).
 *
 * Contract:
 *  - Page numbers are arena page indices; each client's pages are private to it.
 *  - submit_read: data for each request lands in buf by the time its completion is
 *    returned by poll().  The buffer is the page's local frame (the pager's alias
 *    mapping of the arena), so a backend may write into it directly.
 *  - submit_write: the backend has taken the bytes (copied them or sent them) when
 *    submit_write returns; the buffer may be reused at once.  The completion only says
 *    the far copy is durable.  A read submitted after a write of the same page returns
 *    the written data.
 *  - A page that was never written reads as an error (FS_EBACKEND): the pager never
 *    asks for one, because it serves never-written pages as zero pages itself.
 *  - Errors are sticky and come with a sentence in b->errmsg.  The pager turns any
 *    backend error into a clear message and a non-zero exit, never a zero page.
 */
#ifndef FS_BACKEND_H
#define FS_BACKEND_H

#include "farsight.h"

enum { FS_IO_DEMAND = 1, FS_IO_PREFETCH = 2, FS_IO_WRITEBACK = 4 };

typedef struct fs_io {
	uint64_t page;   /* first arena page index */
	uint32_t npages; /* contiguous pages in this request (1..FS_IO_MAX_PAGES) */
	uint32_t flags;  /* FS_IO_* */
	void *buf;       /* npages * FS_PAGE_SIZE bytes */
	uint64_t tag;    /* handed back on completion */
} fs_io;

#define FS_IO_MAX_PAGES 256

typedef struct fs_io_done {
	uint64_t tag;
	int status; /* 0 or FS_E* */
} fs_io_done;

typedef struct fs_backend fs_backend;

typedef struct fs_backend_ops {
	const char *name;
	/* Queue n requests.  Returns how many were accepted (0..n; fewer means the backend's
	 * queue is full: poll and submit the rest) or a negative FS_E* code. */
	int (*submit_read)(fs_backend *b, const fs_io *ios, int n);
	int (*submit_write)(fs_backend *b, const fs_io *ios, int n);
	/* Collect up to max completions.  Waits up to timeout_ns for the first one
	 * (0 = do not wait, <0 = wait as long as needed).  Returns the count or FS_E*. */
	int (*poll)(fs_backend *b, fs_io_done *out, int max, int64_t timeout_ns);
	/* The far copies of these pages are no longer needed (free, discard). */
	int (*discard)(fs_backend *b, uint64_t page, uint64_t npages);
	/* Requests submitted but not yet returned by poll. */
	int (*inflight)(fs_backend *b);
	void (*close)(fs_backend *b);
} fs_backend_ops;

struct fs_backend {
	const fs_backend_ops *ops;
	char errmsg[256]; /* the sentence behind the last error */
};

/* Open the backend named by cfg->backend ("mem", "tcp://HOST:PORT"). */
int fs_backend_open(const fs_config *cfg, fs_backend **out, char *err, size_t errlen);

/* Constructors of the individual backends (src/backend/<name>.c). */
int fs_backend_mem_open(const fs_config *cfg, fs_backend **out, char *err, size_t errlen);
int fs_backend_tcp_open(const fs_config *cfg, const char *hostport, fs_backend **out,
			char *err, size_t errlen);

#endif
