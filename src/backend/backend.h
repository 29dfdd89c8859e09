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
	/* Optional: the backend's own counters, up to max, for the summary and the stats
	 * JSON.  Called from any thread while the pager runs: it reads only counters the
	 * backend keeps in relaxed atomics. */
	int (*stats)(fs_backend *b, fs_named_stat *out, int max);
	/* Optional (may be NULL): a thread now waits on `page`, which a queued prefetch
	 * read is bringing in: serve that read ahead of the prefetches queued before it,
	 * as a demand read would be.  Returns 1 if a read was moved ahead, 0 if none was
	 * queued behind others (it is due soon anyway, or no read holds the page). */
	int (*promote)(fs_backend *b, uint64_t page);
	void (*close)(fs_backend *b);
	/* In a child forked without exec (runtime/fork.c), on the inherited backend: make
	 * it the child's own, holding the parent's far pages as they were at the fork,
	 * never shared with the parent.  NULL: the backend cannot, and forked children
	 * run without far memory (and are stopped with a message if they touch it). */
	int (*fork_child)(fs_backend *b, char *err, size_t errlen);
} fs_backend_ops;

struct fs_backend {
	const fs_backend_ops *ops;
	char errmsg[512]; /* the sentence behind the last error */
	/* The arena's memfd (set by the runtime after open; -1 when there is none): a
	 * read's data may land by pwrite(arena_fd, data, len, page * FS_PAGE_SIZE)
	 * instead of a copy into buf.  That costs the pager ~1.6 us a page against ~4 us:
	 * a copy into the alias view faults on every page and zeroes it first
	 * (../shared/brief/async-probe.md; bench/scan.c measures it). */
	int arena_fd;
};

/* ---- liveness of a remote server --------------------------------------------
 * A server that stops answering (stopped, hung, a network partition) must not stall
 * the program forever: a remote backend keeps one fs_liveness per connection (or per
 * server) and, while requests are outstanding there, treats a silence longer than
 * the backend_timeout_ms setting as the server's death: it stops with a sentence
 * naming the server (fs_live_expired_msg), or fails over where it has replicas.
 * "Silence" is time without a byte from the server, not a request's age, so a slow
 * link that keeps delivering a deep queue is not mistaken for a dead one
 * (docs/PROTOCOL.md "Deadline").  Used by tcp.c; the helpers are for any backend. */
typedef struct fs_liveness {
	uint64_t quiet_since; /* ns: start of the current silence (0 = nothing outstanding) */
	uint64_t longest;     /* ns: the longest silence seen (FARSIGHT_DEBUG logs it) */
} fs_liveness;

/* Requests are outstanding now and were not before: the silence starts now. */
static inline void fs_live_busy(fs_liveness *l, uint64_t now)
{
	if (!l->quiet_since)
		l->quiet_since = now;
}
/* Bytes arrived from the server (busy: requests are still outstanding after them). */
static inline void fs_live_heard(fs_liveness *l, uint64_t now, int busy)
{
	if (l->quiet_since && now - l->quiet_since > l->longest)
		l->longest = now - l->quiet_since;
	l->quiet_since = busy ? now : 0;
}
/* Nanoseconds left before the silence exceeds limit_ns (UINT64_MAX when nothing is
 * outstanding or limit_ns is 0 = no deadline; 0 when it is exceeded). */
static inline uint64_t fs_live_left(const fs_liveness *l, uint64_t now, uint64_t limit_ns)
{
	if (!l->quiet_since || !limit_ns)
		return UINT64_MAX;
	uint64_t quiet = now - l->quiet_since;
	return quiet >= limit_ns ? 0 : limit_ns - quiet;
}
/* The sentence for a server that exceeded the deadline (into b->errmsg). */
void fs_live_expired_msg(fs_backend *b, const char *server, const fs_liveness *l,
			 uint64_t now, uint32_t waiting, uint32_t timeout_ms);

/* fork_child of a backend whose store is private memory of this process (mem, zmem):
 * fork has already given the child its own copy-on-write copy, as of the fork. */
int fs_backend_fork_private(fs_backend *b, char *err, size_t errlen);

/* Open the backend named by cfg->backend ("mem", "zmem[?compressor=lz4|zstd]",
 * "tcp://HOST:PORT", "redis://HOST:PORT[,HOST:PORT...][?replicas=N]"). */
int fs_backend_open(const fs_config *cfg, fs_backend **out, char *err, size_t errlen);

/* Constructors of the individual backends (src/backend/<name>.c). */
int fs_backend_mem_open(const fs_config *cfg, fs_backend **out, char *err, size_t errlen);
/* Is spec a backend this build knows, with valid options?  (The CLI's --backend check;
 * an address is only resolved when the backend opens.) */
int fs_backend_check(const char *spec, char *err, size_t errlen);

int fs_backend_zmem_open(const fs_config *cfg, const char *options, fs_backend **out,
			 char *err, size_t errlen);
/* Parse zmem's options ("", "compressor=lz4|zstd"); *compressor gets the choice. */
int fs_backend_zmem_options(const char *options, int *compressor, char *err, size_t errlen);
/* spec: what follows "redis://" (HOST:PORT[,HOST:PORT...][?replicas=N]). */
int fs_backend_redis_open(const fs_config *cfg, const char *spec, fs_backend **out,
			  char *err, size_t errlen);
int fs_backend_redis_check(const char *spec, char *err, size_t errlen);
int fs_backend_tcp_open(const fs_config *cfg, const char *hostport, fs_backend **out,
			char *err, size_t errlen);

#endif
