/*
 * zmem.c - the `zmem` backend: far memory as compressed pages inside this process.
 *
 * What zram and zswap do in the kernel, in user space: a page evicted from the local
 * budget is compressed (lz4, or zstd with `zmem?compressor=zstd`) and kept in this
 * process's own memory, so the whole process holds its local pages plus the
 * compressed size of the rest.  Unlike `mem` (a full-size copy that only emulates a
 * link) this saves real RAM: the process's RSS, not only the budget.
 *
 * Layout, chosen after zram/zsmalloc:
 *   - an entry per arena page (16 bytes, as zram's table entry) says how the page is
 *     held: not at all, same-filled (one 64-bit word repeated 512 times: zero pages and
 *     memset patterns, stored without data), or as an object in a slab;
 *   - objects live in size classes of 32-byte steps up to a page; a page that does not
 *     compress below RAW_ABOVE bytes is stored as it is (no decompression on read);
 *   - each class carves its objects out of 64 KiB slabs taken from one reserved
 *     private anonymous region (one VMA however many slabs; private so that fork
 *     gives a child its own copy-on-write view, never MAP_SHARED);
 *   - a slab that empties is given back to the kernel at once (MADV_DONTNEED), so
 *     freed compressed space leaves the process's RSS;
 *   - slabs sit in fullness groups (zsmalloc's): allocation takes the fullest slab, and
 *     when a class holds two slabs' worth of free slots and an eighth of its capacity,
 *     the objects of its emptiest slab move into the fuller ones and the slab is freed
 *     (compaction; a per-slot owner array says which page each object belongs to).
 *
 * The contract of backend.h: writes are compressed when submit_write is called (the
 * bytes are taken; the completion is ready at once).  Demand reads are decompressed at
 * submit, straight into the page frame; prefetch reads are queued and decompressed in
 * poll(), at most POLL_PAGES pages per call and only when no demand completion is
 * waiting, so a demand read never waits behind the decompression of prefetches.  A
 * write or discard of a page that still has a queued read first serves that read (it
 * returns the data as it was when the read was submitted).
 *
 * Single-threaded by contract (only the pager calls in); the counters that stats()
 * reports from other threads are relaxed atomics.
 */
#include "backend/backend.h"
#include "common/util.h"

#include <errno.h>
#include <lz4.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <zstd.h>

#define SLAB_SHIFT 16
#define SLAB_BYTES (1u << SLAB_SHIFT)
#define GRAIN 32
#define NCLASSES ((int)(FS_PAGE_SIZE / GRAIN)) /* class c holds objects of (c + 1) * GRAIN bytes */
#define RAW_ABOVE 3584                  /* compressed beyond this: store the page as it is */
#define NGROUPS 4                       /* fullness groups: < 1/4, < 1/2, < 3/4, < full */
#define GROUP_FULL NGROUPS
#define GROUP_NONE (NGROUPS + 1)        /* being compacted: in no list */
#define NO_SLAB UINT32_MAX
#define FREE_BIT 0x80000000u
#define FREE_END 0xffffu
#define QCAP 65536  /* queued reads and completions */
#define POLL_PAGES 32 /* prefetched pages decompressed per poll() call */

enum { Z_NONE = 0, Z_SAME, Z_OBJ };

struct zent {
	uint64_t val;     /* Z_SAME: the repeated word; Z_OBJ: slab << 16 | slot */
	uint16_t len;     /* Z_OBJ: stored bytes (FS_PAGE_SIZE = stored raw) */
	uint8_t kind;     /* Z_* */
	uint8_t pending;  /* queued reads of this page (saturates) */
	uint32_t unused;
};

struct slab {
	uint32_t *owner;    /* per slot: the page it holds, or FREE_BIT | next free slot */
	uint32_t prev, next; /* in the class's fullness group list */
	uint16_t cls, nslots, inuse;
	uint16_t bump;      /* slots from here on were never used (not yet resident) */
	uint16_t free_head; /* first free slot below bump, FREE_END = none */
	uint8_t group;
};

struct zclass {
	uint32_t size, nslots;
	uint32_t head[NGROUPS];
	uint64_t slots, used; /* capacity of its slabs, live objects */
};

struct qread {
	uint64_t tag, page;
	void *buf;
	uint32_t npages;
};

enum { C_LZ4, C_ZSTD };

struct zmem_backend {
	fs_backend base;
	int compressor;
	ZSTD_CCtx *cctx;
	ZSTD_DCtx *dctx;
	struct zent *ent;
	uint64_t npages;
	unsigned char *region; /* max_slabs * SLAB_BYTES, reserved */
	struct slab *slabs;
	uint32_t max_slabs, next_slab; /* slabs [next_slab, max) never used */
	uint32_t *free_slabs;
	uint32_t nfree_slabs;
	struct zclass cls[NCLASSES];
	struct qread *q;   /* queued prefetch reads, FIFO ring */
	uint32_t qhead, qcount;
	fs_io_done *done;  /* completions ready for poll, ring */
	uint32_t dhead, dcount;
	uint32_t ndemand_done; /* demand completions in done: poll returns them alone */
	unsigned char scratch[FS_PAGE_SIZE * 2];
	/* Counters for stats(), written by the pager only. */
	_Atomic uint64_t pages, same_pages, zero_pages, raw_pages;
	_Atomic uint64_t obj_bytes;      /* sum of stored object lengths */
	_Atomic uint64_t resident;       /* what the store takes: slab bytes touched, owner
					  * arrays, the entries of the pages it holds */
	_Atomic uint64_t resident_peak;
	_Atomic uint64_t ncompress, compress_ns, ndecompress, decompress_ns;
	_Atomic uint64_t slabs_freed, objects_moved;
};

#define RLX memory_order_relaxed
#define ADD(ctr, v) atomic_fetch_add_explicit(&(ctr), (v), RLX)
#define SUB(ctr, v) atomic_fetch_sub_explicit(&(ctr), (v), RLX)
#define GET(ctr) atomic_load_explicit(&(ctr), RLX)

static unsigned char *slot_addr(struct zmem_backend *z, uint32_t s, uint32_t slot)
{
	return z->region + ((uint64_t)s << SLAB_SHIFT) + (uint64_t)slot * z->cls[z->slabs[s].cls].size;
}

static void grow(struct zmem_backend *z, uint64_t bytes)
{
	uint64_t r = ADD(z->resident, bytes) + bytes;
	if (r > GET(z->resident_peak))
		atomic_store_explicit(&z->resident_peak, r, RLX);
}

static uint64_t touched_bytes(uint32_t slots, uint32_t size)
{
	return ((uint64_t)slots * size + FS_PAGE_SIZE - 1) & ~(uint64_t)(FS_PAGE_SIZE - 1);
}

/* ---- fullness groups ---------------------------------------------------------- */

static int group_of(const struct slab *sl)
{
	if (sl->inuse == sl->nslots)
		return GROUP_FULL;
	return (int)((uint32_t)sl->inuse * NGROUPS / sl->nslots);
}

static void list_remove(struct zmem_backend *z, uint32_t s)
{
	struct slab *sl = &z->slabs[s];
	if (sl->group >= NGROUPS)
		return;
	struct zclass *c = &z->cls[sl->cls];
	if (sl->prev != NO_SLAB)
		z->slabs[sl->prev].next = sl->next;
	else
		c->head[sl->group] = sl->next;
	if (sl->next != NO_SLAB)
		z->slabs[sl->next].prev = sl->prev;
	sl->group = GROUP_NONE;
}

static void list_add(struct zmem_backend *z, uint32_t s, int g)
{
	struct slab *sl = &z->slabs[s];
	sl->group = (uint8_t)g;
	if (g >= NGROUPS)
		return;
	struct zclass *c = &z->cls[sl->cls];
	sl->prev = NO_SLAB;
	sl->next = c->head[g];
	if (sl->next != NO_SLAB)
		z->slabs[sl->next].prev = s;
	c->head[g] = s;
}

/* After inuse changed: move the slab to the group it belongs to now. */
static void regroup(struct zmem_backend *z, uint32_t s)
{
	struct slab *sl = &z->slabs[s];
	if (sl->group == GROUP_NONE)
		return; /* under compaction */
	int g = group_of(sl);
	if (g != sl->group) {
		list_remove(z, s);
		list_add(z, s, g);
	}
}

/* ---- slabs ------------------------------------------------------------------------ */

static uint32_t slab_new(struct zmem_backend *z, int cls)
{
	uint32_t s;
	if (z->nfree_slabs)
		s = z->free_slabs[--z->nfree_slabs];
	else if (z->next_slab < z->max_slabs)
		s = z->next_slab++;
	else
		return NO_SLAB;
	struct zclass *c = &z->cls[cls];
	uint32_t *owner = malloc(c->nslots * sizeof(uint32_t));
	if (!owner) {
		z->free_slabs[z->nfree_slabs++] = s;
		return NO_SLAB;
	}
	z->slabs[s] = (struct slab){ .owner = owner, .prev = NO_SLAB, .next = NO_SLAB,
				     .cls = (uint16_t)cls, .nslots = (uint16_t)c->nslots,
				     .free_head = FREE_END, .group = GROUP_NONE };
	c->slots += c->nslots;
	grow(z, c->nslots * sizeof(uint32_t));
	list_add(z, s, 0);
	return s;
}

/* Give an empty slab's memory back to the kernel. */
static void slab_free(struct zmem_backend *z, uint32_t s)
{
	struct slab *sl = &z->slabs[s];
	struct zclass *c = &z->cls[sl->cls];
	list_remove(z, s);
	fs_sys_madvise(z->region + ((uint64_t)s << SLAB_SHIFT), SLAB_BYTES, MADV_DONTNEED);
	SUB(z->resident, touched_bytes(sl->bump, c->size) + sl->nslots * sizeof(uint32_t));
	c->slots -= sl->nslots;
	free(sl->owner);
	sl->owner = NULL;
	z->free_slabs[z->nfree_slabs++] = s;
	ADD(z->slabs_freed, 1);
}

/* Take a slot of class cls for page; returns slab << 16 | slot, or UINT64_MAX when
 * the region is exhausted or out of local memory for the owner arrays. */
static uint64_t obj_alloc(struct zmem_backend *z, int cls, uint64_t page)
{
	struct zclass *c = &z->cls[cls];
	uint32_t s = NO_SLAB;
	for (int g = NGROUPS - 1; g >= 0 && s == NO_SLAB; g--)
		s = c->head[g];
	if (s == NO_SLAB && (s = slab_new(z, cls)) == NO_SLAB)
		return UINT64_MAX;
	struct slab *sl = &z->slabs[s];
	uint32_t slot;
	if (sl->free_head != FREE_END) {
		slot = sl->free_head;
		sl->free_head = (uint16_t)(sl->owner[slot] & ~FREE_BIT);
	} else {
		slot = sl->bump++;
		uint64_t grew = touched_bytes(sl->bump, c->size) - touched_bytes(slot, c->size);
		if (grew)
			grow(z, grew);
	}
	sl->owner[slot] = (uint32_t)page;
	sl->inuse++;
	c->used++;
	regroup(z, s);
	return (uint64_t)s << 16 | slot;
}

static void compact(struct zmem_backend *z, int cls);

static void obj_free(struct zmem_backend *z, uint64_t handle, int may_compact)
{
	uint32_t s = (uint32_t)(handle >> 16), slot = (uint32_t)(handle & 0xffff);
	struct slab *sl = &z->slabs[s];
	struct zclass *c = &z->cls[sl->cls];
	int cls = sl->cls;
	sl->owner[slot] = FREE_BIT | sl->free_head;
	sl->free_head = (uint16_t)slot;
	sl->inuse--;
	c->used--;
	if (sl->inuse == 0 && sl->group != GROUP_NONE) {
		slab_free(z, s);
		return;
	}
	regroup(z, s);
	uint64_t holes = c->slots - c->used;
	if (may_compact && holes >= 2ull * c->nslots && holes * 8 >= c->slots)
		compact(z, cls);
}

/* Move the objects of the class's emptiest slab into its fuller slabs and free it.
 * Called with at least two slabs' worth of free slots in the class, so the objects
 * always fit in the other slabs and no new slab is taken. */
static void compact(struct zmem_backend *z, int cls)
{
	struct zclass *c = &z->cls[cls];
	uint32_t src = NO_SLAB;
	for (int g = 0; g < NGROUPS - 1 && src == NO_SLAB; g++)
		src = c->head[g];
	if (src == NO_SLAB)
		return; /* every slab is at least 3/4 full: not worth moving */
	list_remove(z, src);
	struct slab *sl = &z->slabs[src];
	for (uint32_t slot = 0; slot < sl->bump && sl->inuse; slot++) {
		uint32_t page = sl->owner[slot];
		if (page & FREE_BIT)
			continue;
		uint64_t h = obj_alloc(z, cls, page);
		if (h == UINT64_MAX)
			break;
		struct zent *e = &z->ent[page];
		memcpy(slot_addr(z, (uint32_t)(h >> 16), (uint32_t)(h & 0xffff)),
		       slot_addr(z, src, slot), e->len);
		e->val = h;
		obj_free(z, (uint64_t)src << 16 | slot, 0);
		ADD(z->objects_moved, 1);
	}
	if (sl->inuse == 0)
		slab_free(z, src);
	else
		list_add(z, src, group_of(sl)); /* out of room after all: keep it */
}

/* ---- pages ------------------------------------------------------------------------ */

static int class_of(uint32_t len) { return (int)((len + GRAIN - 1) / GRAIN) - 1; }

/* Drop whatever the store holds for page. */
static void page_drop(struct zmem_backend *z, uint64_t page)
{
	struct zent *e = &z->ent[page];
	if (e->kind == Z_OBJ) {
		SUB(z->obj_bytes, e->len);
		if (e->len == FS_PAGE_SIZE)
			SUB(z->raw_pages, 1);
		obj_free(z, e->val, 1);
	} else if (e->kind == Z_SAME) {
		SUB(z->same_pages, 1);
		if (e->val == 0)
			SUB(z->zero_pages, 1);
	}
	if (e->kind != Z_NONE) {
		SUB(z->pages, 1);
		SUB(z->resident, sizeof(struct zent));
	}
	e->kind = Z_NONE;
}

static int same_filled(const void *p, uint64_t *word)
{
	const uint64_t *w = p;
	for (size_t i = 1; i < FS_PAGE_SIZE / 8; i++)
		if (w[i] != w[0])
			return 0;
	*word = w[0];
	return 1;
}

static size_t compress_page(struct zmem_backend *z, const void *src)
{
	uint64_t t0 = fs_now_ns();
	size_t n;
	if (z->compressor == C_ZSTD) {
		n = ZSTD_compressCCtx(z->cctx, z->scratch, sizeof(z->scratch), src, FS_PAGE_SIZE, 1);
		if (ZSTD_isError(n))
			n = FS_PAGE_SIZE;
	} else {
		int r = LZ4_compress_default(src, (char *)z->scratch, FS_PAGE_SIZE,
					     (int)sizeof(z->scratch));
		n = r > 0 ? (size_t)r : FS_PAGE_SIZE;
	}
	ADD(z->compress_ns, fs_now_ns() - t0);
	ADD(z->ncompress, 1);
	return n;
}

static int page_store(struct zmem_backend *z, uint64_t page, const void *src)
{
	struct zent *e = &z->ent[page];
	uint64_t word;
	page_drop(z, page);
	if (same_filled(src, &word)) {
		*e = (struct zent){ .val = word, .kind = Z_SAME, .pending = e->pending };
		ADD(z->same_pages, 1);
		if (!word)
			ADD(z->zero_pages, 1);
		ADD(z->pages, 1);
		grow(z, sizeof(struct zent));
		return FS_OK;
	}
	size_t n = compress_page(z, src);
	const void *data = z->scratch;
	if (n > RAW_ABOVE) {
		n = FS_PAGE_SIZE;
		data = src;
	}
	uint64_t h = obj_alloc(z, class_of((uint32_t)n), page);
	if (h == UINT64_MAX) {
		fs_errf(z->base.errmsg, sizeof(z->base.errmsg),
			"zmem backend: no room for page %llu: the compressed store's %u slabs "
			"are used, or local memory for its metadata ran out",
			(unsigned long long)page, z->max_slabs);
		return FS_EFULL;
	}
	memcpy(slot_addr(z, (uint32_t)(h >> 16), (uint32_t)(h & 0xffff)), data, n);
	*e = (struct zent){ .val = h, .len = (uint16_t)n, .kind = Z_OBJ, .pending = e->pending };
	ADD(z->obj_bytes, n);
	if (n == FS_PAGE_SIZE)
		ADD(z->raw_pages, 1);
	ADD(z->pages, 1);
	grow(z, sizeof(struct zent));
	return FS_OK;
}

static int page_load(struct zmem_backend *z, uint64_t page, void *dst)
{
	struct zent *e = &z->ent[page];
	if (e->kind == Z_SAME) {
		uint64_t *w = dst;
		for (size_t i = 0; i < FS_PAGE_SIZE / 8; i++)
			w[i] = e->val;
		return FS_OK;
	}
	const void *src = slot_addr(z, (uint32_t)(e->val >> 16), (uint32_t)(e->val & 0xffff));
	if (e->len == FS_PAGE_SIZE) {
		memcpy(dst, src, FS_PAGE_SIZE);
		return FS_OK;
	}
	uint64_t t0 = fs_now_ns();
	size_t n;
	if (z->compressor == C_ZSTD) {
		n = ZSTD_decompressDCtx(z->dctx, dst, FS_PAGE_SIZE, src, e->len);
		if (ZSTD_isError(n))
			n = 0;
	} else {
		int r = LZ4_decompress_safe(src, dst, e->len, FS_PAGE_SIZE);
		n = r > 0 ? (size_t)r : 0;
	}
	ADD(z->decompress_ns, fs_now_ns() - t0);
	ADD(z->ndecompress, 1);
	if (n != FS_PAGE_SIZE) {
		fs_errf(z->base.errmsg, sizeof(z->base.errmsg),
			"zmem backend: page %llu does not decompress to a page (%zu bytes from %u): "
			"the compressed store is damaged",
			(unsigned long long)page, n, e->len);
		return FS_EBACKEND;
	}
	return FS_OK;
}

/* ---- the backend interface ---------------------------------------------------------- */

static int check_range(struct zmem_backend *z, const fs_io *io)
{
	if (io->npages == 0 || io->npages > FS_IO_MAX_PAGES || io->page >= z->npages ||
	    io->npages > z->npages - io->page) {
		fs_errf(z->base.errmsg, sizeof(z->base.errmsg),
			"zmem backend: request for pages %llu+%u is outside far memory",
			(unsigned long long)io->page, io->npages);
		return FS_ERANGE;
	}
	return FS_OK;
}

/* 1 when io may be taken (its range is valid, its completion has room), 0 when the
 * queues are full (take no more of the batch), FS_ERANGE. */
static int admit(struct zmem_backend *z, const fs_io *io)
{
	int rc = check_range(z, io);
	if (rc)
		return rc;
	return z->dcount + z->qcount < QCAP;
}

static void push_done(struct zmem_backend *z, uint64_t tag, int status, int demand)
{
	z->done[(z->dhead + z->dcount) % QCAP] = (fs_io_done){ .tag = tag, .status = status };
	z->dcount++;
	z->ndemand_done += demand;
}

static int read_run(struct zmem_backend *z, uint64_t page, uint32_t npages, void *buf)
{
	for (uint32_t k = 0; k < npages; k++) {
		int rc = page_load(z, page + k, (char *)buf + (size_t)k * FS_PAGE_SIZE);
		if (rc)
			return rc;
	}
	return FS_OK;
}

/* Serve the oldest queued read. */
static int serve_queued(struct zmem_backend *z)
{
	struct qread *r = &z->q[z->qhead];
	int rc = read_run(z, r->page, r->npages, r->buf);
	for (uint32_t k = 0; k < r->npages; k++)
		if (z->ent[r->page + k].pending < UINT8_MAX)
			z->ent[r->page + k].pending--;
	z->qhead = (z->qhead + 1) % QCAP;
	z->qcount--;
	if (rc)
		return rc;
	push_done(z, r->tag, FS_OK, 0);
	return FS_OK;
}

/* Before pages [page, page+n) change: serve every queued read up to the last one of
 * them (a queued read returns the data as of its submission). */
static int settle(struct zmem_backend *z, uint64_t page, uint64_t n)
{
	int any = 0;
	for (uint64_t k = 0; k < n && !any; k++)
		any = z->ent[page + k].pending != 0;
	while (any && z->qcount) {
		int rc = serve_queued(z);
		if (rc)
			return rc;
		any = 0;
		for (uint64_t k = 0; k < n && !any; k++)
			any = z->ent[page + k].pending != 0;
	}
	return FS_OK;
}

/* A read: demand reads are served now, prefetches queued for poll(). */
static int take_read(struct zmem_backend *z, const fs_io *io)
{
	for (uint32_t k = 0; k < io->npages; k++)
		if (z->ent[io->page + k].kind == Z_NONE) {
			fs_errf(z->base.errmsg, sizeof(z->base.errmsg),
				"zmem backend: page %llu was never written to far memory",
				(unsigned long long)(io->page + k));
			return FS_EBACKEND;
		}
	if (io->flags & FS_IO_DEMAND) {
		int rc = read_run(z, io->page, io->npages, io->buf);
		if (!rc)
			push_done(z, io->tag, FS_OK, 1);
		return rc;
	}
	z->q[(z->qhead + z->qcount) % QCAP] = (struct qread){ io->tag, io->page, io->buf, io->npages };
	z->qcount++;
	for (uint32_t k = 0; k < io->npages; k++)
		if (z->ent[io->page + k].pending < UINT8_MAX)
			z->ent[io->page + k].pending++;
	return FS_OK;
}

/* A write: compressed now (the bytes are taken), its completion ready at once. */
static int take_write(struct zmem_backend *z, const fs_io *io)
{
	int rc = settle(z, io->page, io->npages);
	for (uint32_t k = 0; k < io->npages && !rc; k++)
		rc = page_store(z, io->page + k, (const char *)io->buf + (size_t)k * FS_PAGE_SIZE);
	if (!rc)
		push_done(z, io->tag, FS_OK, 0);
	return rc;
}

/* Take requests while the queues have room: the count taken, or an error. */
static int submit(fs_backend *b, const fs_io *ios, int n,
		  int (*take)(struct zmem_backend *, const fs_io *))
{
	struct zmem_backend *z = (struct zmem_backend *)b;
	int i;
	for (i = 0; i < n; i++) {
		int rc = admit(z, &ios[i]);
		if (rc == 0)
			break;
		if (rc < 0 || (rc = take(z, &ios[i])))
			return rc;
	}
	return i;
}

static int zmem_submit_read(fs_backend *b, const fs_io *ios, int n)
{
	return submit(b, ios, n, take_read);
}

static int zmem_submit_write(fs_backend *b, const fs_io *ios, int n)
{
	return submit(b, ios, n, take_write);
}

static int zmem_poll(fs_backend *b, fs_io_done *out, int max, int64_t timeout_ns)
{
	struct zmem_backend *z = (struct zmem_backend *)b;
	/* Demand completions go out alone, before any prefetch is decompressed. */
	if (!z->ndemand_done) {
		uint32_t pages = 0;
		while (z->qcount && z->dcount < (uint32_t)max && pages < POLL_PAGES) {
			pages += z->q[z->qhead].npages;
			int rc = serve_queued(z);
			if (rc)
				return rc;
		}
	}
	int got = 0;
	while (got < max && z->dcount) {
		out[got++] = z->done[z->dhead];
		z->dhead = (z->dhead + 1) % QCAP;
		z->dcount--;
	}
	if (!z->dcount)
		z->ndemand_done = 0;
	return got;
}

static int zmem_discard(fs_backend *b, uint64_t page, uint64_t npages)
{
	struct zmem_backend *z = (struct zmem_backend *)b;
	if (page >= z->npages || npages > z->npages - page)
		return FS_ERANGE;
	int rc = settle(z, page, npages);
	if (rc)
		return rc;
	for (uint64_t k = 0; k < npages; k++)
		page_drop(z, page + k);
	return FS_OK;
}

static int zmem_inflight(fs_backend *b)
{
	struct zmem_backend *z = (struct zmem_backend *)b;
	return (int)(z->dcount + z->qcount);
}

static int zmem_stats(fs_backend *b, fs_named_stat *out, int max)
{
	struct zmem_backend *z = (struct zmem_backend *)b;
	uint64_t pages = GET(z->pages), resident = GET(z->resident);
	uint64_t nc = GET(z->ncompress), nd = GET(z->ndecompress);
	uint64_t objs = pages - GET(z->same_pages);
	uint64_t obj_bytes = GET(z->obj_bytes);
	fs_named_stat s[] = {
		{ "pages_held", (double)pages },
		{ "held_bytes", (double)resident },
		{ "held_bytes_peak", (double)GET(z->resident_peak) },
		/* the RAM the store saves per page it holds: pages x 4 KiB / slab bytes */
		{ "memory_ratio", resident ? (double)pages * FS_PAGE_SIZE / (double)resident : 0 },
		/* the compressor alone, over the pages it stored as objects */
		{ "compression_ratio", obj_bytes ? (double)objs * FS_PAGE_SIZE / (double)obj_bytes : 0 },
		{ "same_filled_pages", (double)GET(z->same_pages) },
		{ "zero_pages", (double)GET(z->zero_pages) },
		{ "raw_pages", (double)GET(z->raw_pages) },
		{ "compress_ns_per_page", nc ? (double)GET(z->compress_ns) / (double)nc : 0 },
		{ "decompress_ns_per_page", nd ? (double)GET(z->decompress_ns) / (double)nd : 0 },
		{ "pages_compressed", (double)nc },
		{ "pages_decompressed", (double)nd },
		{ "slabs_freed", (double)GET(z->slabs_freed) },
		{ "objects_moved", (double)GET(z->objects_moved) },
	};
	int n = FS_MIN(max, (int)FS_ARRAY_SIZE(s));
	memcpy(out, s, (size_t)n * sizeof(*out));
	return n;
}

static void zmem_close(fs_backend *b)
{
	struct zmem_backend *z = (struct zmem_backend *)b;
	if (z->slabs) {
		for (uint32_t s = 0; s < z->next_slab; s++)
			free(z->slabs[s].owner);
		fs_sys_munmap(z->slabs, (size_t)z->max_slabs * sizeof(struct slab));
	}
	if (z->region)
		fs_sys_munmap(z->region, (size_t)z->max_slabs * SLAB_BYTES);
	if (z->ent)
		fs_sys_munmap(z->ent, z->npages * sizeof(struct zent));
	if (z->free_slabs)
		fs_sys_munmap(z->free_slabs, (size_t)z->max_slabs * sizeof(uint32_t));
	ZSTD_freeCCtx(z->cctx);
	ZSTD_freeDCtx(z->dctx);
	free(z->q);
	free(z->done);
	free(z);
}

static const fs_backend_ops zmem_ops = {
	.name = "zmem",
	.submit_read = zmem_submit_read,
	.submit_write = zmem_submit_write,
	.poll = zmem_poll,
	.discard = zmem_discard,
	.inflight = zmem_inflight,
	.stats = zmem_stats,
	.close = zmem_close,
	.fork_child = fs_backend_fork_private, /* slabs in private memory, one thread */
};

int fs_backend_zmem_options(const char *options, int *compressor, char *err, size_t errlen)
{
	int c;
	if (!*options || !strcmp(options, "compressor=lz4"))
		c = C_LZ4;
	else if (!strcmp(options, "compressor=zstd"))
		c = C_ZSTD;
	else {
		fs_errf(err, errlen, "backend 'zmem?%s': unknown option; use zmem (lz4), "
				     "zmem?compressor=lz4 or zmem?compressor=zstd",
			options);
		return FS_EINVAL;
	}
	if (compressor)
		*compressor = c;
	return FS_OK;
}

/* Private anonymous, reserved but not committed: only touched pages take memory. */
static void *reserve(size_t bytes)
{
	void *p = fs_sys_mmap(NULL, bytes, PROT_READ | PROT_WRITE,
			      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

int fs_backend_zmem_open(const fs_config *cfg, const char *options, fs_backend **out,
			 char *err, size_t errlen)
{
	int compressor, rc = fs_backend_zmem_options(options, &compressor, err, errlen);
	if (rc)
		return rc;
	uint64_t npages = cfg->arena_size / FS_PAGE_SIZE;
	if (npages >= FREE_BIT) {
		fs_errf(err, errlen, "zmem backend: an arena of %llu pages is too large (at most "
				     "2^31 pages, 8 TiB); use a smaller --arena-size",
			(unsigned long long)npages);
		return FS_EINVAL;
	}
	struct zmem_backend *z = calloc(1, sizeof(*z));
	if (!z)
		return FS_ENOMEM;
	z->base.ops = &zmem_ops;
	z->compressor = compressor;
	z->npages = npages;
	/* Room for every page stored raw, plus what fragmentation may hold below the
	 * compaction threshold (an eighth, two slabs per class; reserved, not committed). */
	uint64_t max_slabs = npages / (SLAB_BYTES / FS_PAGE_SIZE) * 5 / 4 + 2 * NCLASSES + 16;
	z->max_slabs = (uint32_t)max_slabs;
	for (int c = 0; c < NCLASSES; c++) {
		z->cls[c].size = (uint32_t)(c + 1) * GRAIN;
		z->cls[c].nslots = SLAB_BYTES / z->cls[c].size;
		for (int g = 0; g < NGROUPS; g++)
			z->cls[c].head[g] = NO_SLAB;
	}
	z->ent = reserve(npages * sizeof(struct zent));
	z->region = reserve((size_t)max_slabs * SLAB_BYTES);
	z->slabs = reserve((size_t)max_slabs * sizeof(struct slab));
	z->free_slabs = reserve((size_t)max_slabs * sizeof(uint32_t));
	z->q = calloc(QCAP, sizeof(*z->q));
	z->done = calloc(QCAP, sizeof(*z->done));
	if (compressor == C_ZSTD) {
		z->cctx = ZSTD_createCCtx();
		z->dctx = ZSTD_createDCtx();
	}
	if (!z->ent || !z->region || !z->slabs || !z->free_slabs || !z->q || !z->done ||
	    (compressor == C_ZSTD && (!z->cctx || !z->dctx))) {
		fs_errf(err, errlen, "zmem backend: cannot reserve its store for %llu pages: %s",
			(unsigned long long)npages, strerror(errno));
		zmem_close(&z->base);
		return FS_ENOMEM;
	}
	*out = &z->base;
	return FS_OK;
}
