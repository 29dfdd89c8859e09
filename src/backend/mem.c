/*
 * mem.c - the embedded `mem` backend: far memory emulated inside this process.
 *
 * Pages live in a sparse anonymous mapping as large as the arena (only written pages
 * take physical memory).  Every request is charged a latency and a share of a link of
 * fixed bandwidth, like one RDMA queue pair (defaults 5 us, 25 Gbit/s):
 *
 *     due = start + latency + bytes / bandwidth,
 *     start = now for demand reads (a separate, prioritised queue, as FastSwap's
 *             per-CPU demand queue), else max(now, link_free);  link_free advances by
 *             every request's transfer time.
 *
 * Demand reads wait in a short list; prefetches and write-backs share the link in a
 * FIFO whose `due` times only grow, so a poll looks at the heads only.  A prefetch
 * that a thread now waits on (a late hit) is promoted: moved to the demand list, due
 * when a demand read of its size would be, instead of behind the prefetches queued
 * before it (the pager calls promote; FastSwap's rule that no demand page waits
 * behind prefetches, applied to a prefetch that became a demand).
 *
 * A read's data lands in the arena when the read completes (at `due`, in poll), as a
 * NIC's DMA would land it; writes are copied at submit (the contract: the
 * bytes are taken when submit_write returns).  Copying reads at submit instead would
 * charge every prefetch's copy to the demand fault that triggered it, which a real
 * NIC does not.  The pager treats a page as in flight until its completion, so a
 * prefetch that arrives late costs the program the remaining time, and one that
 * arrives early costs nothing - the behaviour of a real network backend, without its
 * noise.
 */
#include "backend/backend.h"
#include "common/util.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

struct pending {
	uint64_t tag;
	uint64_t due;
	uint64_t page; /* reads: landed at completion */
	void *buf;
	uint32_t npages; /* 0 for writes */
	uint32_t gone;   /* a link entry promoted to the demand list: skip it */
};

#define DEMAND_CAP 4096 /* demand reads and promoted prefetches waiting at once */

struct mem_backend {
	fs_backend base;
	unsigned char *store;   /* arena_size bytes, sparse */
	uint64_t *written;      /* bitmap: page has a far copy */
	uint64_t npages;
	uint64_t latency_ns;
	double ns_per_byte;     /* 0 = unlimited bandwidth */
	uint64_t link_free;
	_Atomic uint64_t held, held_peak; /* pages with a far copy (for stats) */
	struct pending *link;   /* ring of cap entries, head..tail, due non-decreasing */
	uint64_t head, tail, cap;
	struct pending demand[DEMAND_CAP];
	int ndemand;
	int inflight;
};

static int bit_get(const uint64_t *bm, uint64_t i) { return (bm[i >> 6] >> (i & 63)) & 1; }

/* Mark or unmark a page as held, counting held pages for stats(). */
static void set_held(struct mem_backend *m, uint64_t i, int on)
{
	uint64_t bit = 1ull << (i & 63), *w = &m->written[i >> 6];
	if (!!(*w & bit) == on)
		return;
	*w ^= bit;
	if (!on) {
		atomic_fetch_sub_explicit(&m->held, 1, memory_order_relaxed);
		return;
	}
	uint64_t h = atomic_fetch_add_explicit(&m->held, 1, memory_order_relaxed) + 1;
	if (h > atomic_load_explicit(&m->held_peak, memory_order_relaxed))
		atomic_store_explicit(&m->held_peak, h, memory_order_relaxed);
}

static uint64_t xfer_ns(const struct mem_backend *m, uint32_t npages)
{
	return (uint64_t)((double)npages * FS_PAGE_SIZE * m->ns_per_byte);
}

/* Queue one request (reads: npages set by the caller after); 0 if the queue is full. */
static struct pending *enqueue(struct mem_backend *m, const fs_io *io, uint64_t now)
{
	uint64_t xfer = xfer_ns(m, io->npages);
	struct pending *p;
	uint64_t due;
	if (io->flags & FS_IO_DEMAND) {
		if (m->ndemand == DEMAND_CAP)
			return NULL;
		p = &m->demand[m->ndemand++];
		due = now + m->latency_ns + xfer;
	} else {
		if (m->tail - m->head == m->cap)
			return NULL;
		uint64_t start = FS_MAX(now, m->link_free);
		m->link_free = start + xfer;
		due = start + m->latency_ns + xfer;
		p = &m->link[m->tail++ % m->cap];
	}
	*p = (struct pending){ .tag = io->tag, .due = due, .page = io->page, .buf = io->buf };
	m->inflight++;
	return p;
}

static int check_range(struct mem_backend *m, const fs_io *io)
{
	if (io->npages == 0 || io->npages > FS_IO_MAX_PAGES || io->page >= m->npages ||
	    io->npages > m->npages - io->page) {
		fs_errf(m->base.errmsg, sizeof(m->base.errmsg),
			"mem backend: request for pages %llu+%u is outside far memory",
			(unsigned long long)io->page, io->npages);
		return FS_ERANGE;
	}
	return FS_OK;
}

static int mem_submit_read(fs_backend *b, const fs_io *ios, int n)
{
	struct mem_backend *m = (struct mem_backend *)b;
	uint64_t now = fs_now_ns();
	int i;
	for (i = 0; i < n; i++) {
		const fs_io *io = &ios[i];
		int rc = check_range(m, io);
		if (rc)
			return rc;
		for (uint32_t k = 0; k < io->npages; k++)
			if (!bit_get(m->written, io->page + k)) {
				fs_errf(b->errmsg, sizeof(b->errmsg),
					"mem backend: page %llu was never written to far memory",
					(unsigned long long)(io->page + k));
				return FS_EBACKEND;
			}
		struct pending *p = enqueue(m, io, now);
		if (!p)
			break;
		p->npages = io->npages; /* landed at completion */
	}
	return i;
}

static int mem_submit_write(fs_backend *b, const fs_io *ios, int n)
{
	struct mem_backend *m = (struct mem_backend *)b;
	uint64_t now = fs_now_ns();
	int i;
	for (i = 0; i < n; i++) {
		const fs_io *io = &ios[i];
		int rc = check_range(m, io);
		if (rc)
			return rc;
		if (!enqueue(m, io, now))
			break;
		memcpy(m->store + io->page * FS_PAGE_SIZE, io->buf,
		       (size_t)io->npages * FS_PAGE_SIZE);
		for (uint32_t k = 0; k < io->npages; k++)
			set_held(m, io->page + k, 1);
	}
	return i;
}

/* A read's data lands in the arena: pwrite on its memfd where we have it (no fault,
 * no zeroing of the new page-cache page), else a copy into the buffer. */
static int land(struct mem_backend *m, const struct pending *p)
{
	size_t len = (size_t)p->npages * FS_PAGE_SIZE;
	const unsigned char *src = m->store + p->page * FS_PAGE_SIZE;
	if (m->base.arena_fd < 0) {
		memcpy(p->buf, src, len);
		return 0;
	}
	for (size_t done = 0; done < len;) {
		ssize_t w = pwrite(m->base.arena_fd, src + done, len - done,
				   (off_t)(p->page * FS_PAGE_SIZE + done));
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		done += (size_t)w;
	}
	return 0;
}

/* Complete p if it is due: land its data and report it.  Returns 1 if it completed,
 * 0 if not due yet, -1 on a landing error (errmsg set). */
static int complete(struct mem_backend *m, const struct pending *p, uint64_t now, fs_io_done *out)
{
	if (p->due > now)
		return 0;
	if (p->npages && land(m, p)) {
		fs_errf(m->base.errmsg, sizeof(m->base.errmsg),
			"mem backend: landing pages %llu+%u in the arena: %s",
			(unsigned long long)p->page, p->npages, strerror(errno));
		return -1;
	}
	out->tag = p->tag;
	out->status = FS_OK;
	m->inflight--;
	return 1;
}

static int mem_poll(fs_backend *b, fs_io_done *out, int max, int64_t timeout_ns)
{
	struct mem_backend *m = (struct mem_backend *)b;
	uint64_t now = fs_now_ns();
	uint64_t deadline = timeout_ns < 0 ? UINT64_MAX : now + (uint64_t)timeout_ns;
	for (;;) {
		int got = 0;
		uint64_t earliest = UINT64_MAX;
		for (int i = 0; i < m->ndemand && got < max;) {
			int r = complete(m, &m->demand[i], now, &out[got]);
			if (r < 0)
				return FS_EBACKEND;
			if (r) {
				got++;
				m->demand[i] = m->demand[--m->ndemand];
			} else {
				earliest = FS_MIN(earliest, m->demand[i].due);
				i++;
			}
		}
		while (m->head != m->tail && got < max) {
			struct pending *p = &m->link[m->head % m->cap];
			if (p->gone) {
				m->head++;
				continue;
			}
			int r = complete(m, p, now, &out[got]);
			if (r < 0)
				return FS_EBACKEND;
			if (!r) {
				earliest = FS_MIN(earliest, p->due);
				break;
			}
			got++;
			m->head++;
		}
		if (got || m->inflight == 0 || earliest > deadline)
			return got;
		/* Emulated wire time: spin until the earliest completion is due. */
		while ((now = fs_now_ns()) < earliest)
			fs_cpu_relax();
	}
}

static int mem_promote(fs_backend *b, uint64_t page)
{
	struct mem_backend *m = (struct mem_backend *)b;
	uint64_t now = fs_now_ns();
	for (uint64_t i = m->head; i != m->tail; i++) {
		struct pending *p = &m->link[i % m->cap];
		if (p->gone || !p->npages || page < p->page || page >= p->page + p->npages)
			continue;
		uint64_t soon = now + m->latency_ns + xfer_ns(m, p->npages);
		if (p->due <= soon || m->ndemand == DEMAND_CAP)
			return 0;
		m->demand[m->ndemand] = *p;
		m->demand[m->ndemand++].due = soon;
		p->gone = 1;
		return 1;
	}
	return 0;
}

static int mem_discard(fs_backend *b, uint64_t page, uint64_t npages)
{
	struct mem_backend *m = (struct mem_backend *)b;
	if (page >= m->npages || npages > m->npages - page)
		return FS_ERANGE;
	for (uint64_t k = 0; k < npages; k++)
		set_held(m, page + k, 0);
	/* Give the emulated far memory back to the host in whole pages. */
	fs_sys_madvise(m->store + page * FS_PAGE_SIZE, npages * FS_PAGE_SIZE, MADV_DONTNEED);
	return FS_OK;
}

static int mem_inflight(fs_backend *b) { return ((struct mem_backend *)b)->inflight; }

/* The same names as zmem's, so a bench compares the two: a full page per page held. */
static int mem_stats(fs_backend *b, fs_named_stat *out, int max)
{
	struct mem_backend *m = (struct mem_backend *)b;
	uint64_t held = atomic_load_explicit(&m->held, memory_order_relaxed);
	uint64_t peak = atomic_load_explicit(&m->held_peak, memory_order_relaxed);
	fs_named_stat s[] = {
		{ "pages_held", (double)held },
		{ "held_bytes", (double)held * FS_PAGE_SIZE },
		{ "held_bytes_peak", (double)peak * FS_PAGE_SIZE },
	};
	int n = FS_MIN(max, (int)FS_ARRAY_SIZE(s));
	memcpy(out, s, (size_t)n * sizeof(*out));
	return n;
}

static void mem_close(fs_backend *b)
{
	struct mem_backend *m = (struct mem_backend *)b;
	fs_sys_munmap(m->store, m->npages * FS_PAGE_SIZE);
	fs_sys_munmap(m->written, (m->npages + 7) / 8);
	free(m->link);
	free(m);
}

static const fs_backend_ops mem_ops = {
	.name = "mem",
	.submit_read = mem_submit_read,
	.submit_write = mem_submit_write,
	.poll = mem_poll,
	.discard = mem_discard,
	.inflight = mem_inflight,
	.stats = mem_stats,
	.promote = mem_promote,
	.close = mem_close,
	.fork_child = fs_backend_fork_private, /* the store is private memory */
};

int fs_backend_mem_open(const fs_config *cfg, fs_backend **out, char *err, size_t errlen)
{
	struct mem_backend *m = calloc(1, sizeof(*m));
	if (!m)
		return FS_ENOMEM;
	m->base.ops = &mem_ops;
	m->base.arena_fd = -1;
	m->npages = cfg->arena_size / FS_PAGE_SIZE;
	m->latency_ns = (uint64_t)(cfg->mem_latency_us * 1000.0);
	m->ns_per_byte = cfg->mem_bandwidth_gbps > 0 ? 8.0 / cfg->mem_bandwidth_gbps : 0;
	m->cap = 65536;
	m->link = calloc((size_t)m->cap, sizeof(*m->link));
	m->store = fs_sys_mmap(NULL, m->npages * FS_PAGE_SIZE, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	m->written = fs_sys_mmap(NULL, (m->npages + 7) / 8, PROT_READ | PROT_WRITE,
				 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (!m->link || m->store == MAP_FAILED || m->written == MAP_FAILED) {
		fs_errf(err, errlen, "mem backend: cannot reserve %llu bytes of emulated far memory: %s",
			(unsigned long long)(m->npages * FS_PAGE_SIZE), strerror(errno));
		free(m->link);
		free(m);
		return FS_ENOMEM;
	}
	*out = &m->base;
	return FS_OK;
}
