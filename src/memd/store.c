/*
 * store.c - the memory server's page store: sessions, their page tables, capacity.
 *
 * A session is one client (its pages are private to it: no request names another
 * session, so there is no way to reach another client's pages).  It is shared by the
 * client's connections (the tcp backend opens two: one for demand reads, one for
 * everything else) and freed with its pages when the last of them closes.
 *
 * Each session's page table is an open-addressing hash table (linear probing,
 * backward-shift deletion, so no tombstones) from page index to a malloc'd 4 KiB
 * frame.  Page indices are below 2^52, so UINT64_MAX marks an empty slot.
 *
 * The capacity is counted in pages over all sessions.  A WRITE that needs more new
 * frames than are left is refused whole (FSP_ST_FULL), never half applied.
 */
#include "memd/memd.h"
#include "common/util.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/random.h>

#define EMPTY UINT64_MAX

struct slot {
	uint64_t page;
	unsigned char *frame;
};

struct memd_session {
	memd_session *next, *prev;
	unsigned char id[FSP_SESSION_LEN];
	int refs;
	struct slot *tab;
	uint64_t mask;  /* table size - 1 (a power of two) */
	uint64_t count;
};

int memd_buf_reserve(memd_buf *b, size_t extra)
{
	if (b->off && b->off == b->len)
		b->off = b->len = 0;
	if (b->cap - b->len >= extra)
		return 0;
	if (b->off) { /* slide pending bytes to the front before growing */
		memmove(b->data, b->data + b->off, b->len - b->off);
		b->len -= b->off;
		b->off = 0;
		if (b->cap - b->len >= extra)
			return 0;
	}
	size_t cap = b->cap ? b->cap : 65536;
	while (cap - b->len < extra)
		cap *= 2;
	unsigned char *d = realloc(b->data, cap);
	if (!d)
		return FS_ENOMEM;
	b->data = d;
	b->cap = cap;
	return 0;
}

void memd_buf_free(memd_buf *b)
{
	free(b->data);
	memset(b, 0, sizeof(*b));
}

void memd_store_init(memd_store *s, uint64_t capacity_pages)
{
	memset(s, 0, sizeof(*s));
	s->capacity_pages = capacity_pages;
}

static void session_free(memd_store *s, memd_session *ss)
{
	for (uint64_t i = 0; i <= ss->mask; i++)
		if (ss->tab[i].page != EMPTY)
			free(ss->tab[i].frame);
	s->used_pages -= ss->count;
	if (ss->prev)
		ss->prev->next = ss->next;
	else
		s->sessions = ss->next;
	if (ss->next)
		ss->next->prev = ss->prev;
	s->nsessions--;
	free(ss->tab);
	free(ss);
}

void memd_store_destroy(memd_store *s)
{
	while (s->sessions)
		session_free(s, s->sessions);
}

memd_session *memd_session_new(memd_store *s)
{
	memd_session *ss = calloc(1, sizeof(*ss));
	if (!ss)
		return NULL;
	ss->mask = 1023;
	ss->tab = malloc((ss->mask + 1) * sizeof(*ss->tab));
	if (!ss->tab) {
		free(ss);
		return NULL;
	}
	for (uint64_t i = 0; i <= ss->mask; i++)
		ss->tab[i].page = EMPTY;
	/* The id names the session to a client's second connection; it is random so it
	 * cannot be guessed, though joining also needs the secret when there is one. */
	size_t got = 0;
	while (got < FSP_SESSION_LEN) {
		ssize_t r = getrandom(ss->id + got, FSP_SESSION_LEN - got, 0);
		if (r < 0 && errno != EINTR) {
			free(ss->tab);
			free(ss);
			return NULL;
		}
		if (r > 0)
			got += (size_t)r;
	}
	ss->next = s->sessions;
	if (s->sessions)
		s->sessions->prev = ss;
	s->sessions = ss;
	s->nsessions++;
	return ss;
}

memd_session *memd_session_find(memd_store *s, const unsigned char id[FSP_SESSION_LEN])
{
	for (memd_session *ss = s->sessions; ss; ss = ss->next)
		if (!fs_ct_memcmp(ss->id, id, FSP_SESSION_LEN))
			return ss;
	return NULL;
}

const unsigned char *memd_session_id(const memd_session *ss) { return ss->id; }
void memd_session_get(memd_session *ss) { ss->refs++; }
uint64_t memd_session_pages(const memd_session *ss) { return ss->count; }

void memd_session_put(memd_store *s, memd_session *ss)
{
	if (--ss->refs <= 0)
		session_free(s, ss);
}

static inline uint64_t slot_of(const memd_session *ss, uint64_t page)
{
	return (page * 0x9E3779B97F4A7C15ull >> 20) & ss->mask;
}

static unsigned char *lookup(const memd_session *ss, uint64_t page)
{
	for (uint64_t i = slot_of(ss, page);; i = (i + 1) & ss->mask) {
		if (ss->tab[i].page == page)
			return ss->tab[i].frame;
		if (ss->tab[i].page == EMPTY)
			return NULL;
	}
}

static void insert_slot(memd_session *ss, uint64_t page, unsigned char *frame)
{
	uint64_t i = slot_of(ss, page);
	while (ss->tab[i].page != EMPTY)
		i = (i + 1) & ss->mask;
	ss->tab[i].page = page;
	ss->tab[i].frame = frame;
	ss->count++;
}

/* Keep the load factor at most 1/2 so probes stay short. */
static int grow(memd_session *ss, uint64_t extra)
{
	if ((ss->count + extra) * 2 <= ss->mask + 1)
		return 0;
	uint64_t size = ss->mask + 1;
	while ((ss->count + extra) * 2 > size)
		size *= 2;
	struct slot *old = ss->tab;
	uint64_t oldsize = ss->mask + 1;
	ss->tab = malloc(size * sizeof(*ss->tab));
	if (!ss->tab) {
		ss->tab = old;
		return FS_ENOMEM;
	}
	for (uint64_t i = 0; i < size; i++)
		ss->tab[i].page = EMPTY;
	ss->mask = size - 1;
	ss->count = 0;
	for (uint64_t i = 0; i < oldsize; i++)
		if (old[i].page != EMPTY)
			insert_slot(ss, old[i].page, old[i].frame);
	free(old);
	return 0;
}

static int remove_page(memd_session *ss, uint64_t page)
{
	uint64_t i = slot_of(ss, page);
	while (ss->tab[i].page != page) {
		if (ss->tab[i].page == EMPTY)
			return 0;
		i = (i + 1) & ss->mask;
	}
	free(ss->tab[i].frame);
	ss->count--;
	/* Backward-shift: move later entries of the probe run into the hole when their
	 * home slot is at or before it, so lookups never stop early. */
	uint64_t hole = i;
	for (uint64_t j = (i + 1) & ss->mask; ss->tab[j].page != EMPTY; j = (j + 1) & ss->mask) {
		uint64_t home = slot_of(ss, ss->tab[j].page);
		if (((j - home) & ss->mask) >= ((j - hole) & ss->mask)) {
			ss->tab[hole] = ss->tab[j];
			hole = j;
		}
	}
	ss->tab[hole].page = EMPTY;
	return 1;
}

static int respond(memd_buf *out, const fsp_hdr *req, uint8_t status, size_t payload)
{
	if (memd_buf_reserve(out, FSP_HDR_LEN + payload))
		return FS_ENOMEM;
	fsp_hdr h = { .op = req->op, .flags_or_status = status, .npages = req->npages,
		      .page = req->page, .tag = req->tag };
	fsp_hdr_encode(out->data + out->len, &h);
	out->len += FSP_HDR_LEN;
	return 0;
}

int memd_apply(memd_store *s, memd_session *ss, const fsp_hdr *req,
	       const unsigned char *payload, memd_buf *out)
{
	switch (req->op) {
	case FSP_OP_READ: {
		/* All pages present, or a NOT_WRITTEN answer with no data: the client never
		 * receives a partial or zero-filled run in place of data. */
		for (uint32_t k = 0; k < req->npages; k++)
			if (!lookup(ss, req->page + k))
				return respond(out, req, FSP_ST_NOT_WRITTEN, 0);
		if (respond(out, req, FSP_ST_OK, (size_t)req->npages * 4096))
			return FS_ENOMEM;
		for (uint32_t k = 0; k < req->npages; k++) {
			memcpy(out->data + out->len, lookup(ss, req->page + k), 4096);
			out->len += 4096;
		}
		return 0;
	}
	case FSP_OP_WRITE: {
		uint64_t fresh = 0;
		for (uint32_t k = 0; k < req->npages; k++)
			fresh += !lookup(ss, req->page + k);
		if (s->capacity_pages && fresh > s->capacity_pages - s->used_pages)
			return respond(out, req, FSP_ST_FULL, 0);
		if (grow(ss, fresh))
			return FS_ENOMEM;
		for (uint32_t k = 0; k < req->npages; k++) {
			unsigned char *f = lookup(ss, req->page + k);
			if (!f) {
				f = malloc(4096);
				if (!f)
					return FS_ENOMEM;
				insert_slot(ss, req->page + k, f);
				s->used_pages++;
			}
			memcpy(f, payload + (size_t)k * 4096, 4096);
		}
		return respond(out, req, FSP_ST_OK, 0);
	}
	case FSP_OP_DISCARD: {
		/* Unanswered.  Walk whichever is smaller, the range or the table, so a
		 * discard of 2^32 pages costs no more than the pages the client holds. */
		if ((uint64_t)req->npages <= ss->mask + 1) {
			for (uint64_t k = 0; k < req->npages; k++)
				s->used_pages -= (uint64_t)remove_page(ss, req->page + k);
		} else {
			for (uint64_t i = 0; i <= ss->mask;) {
				uint64_t p = ss->tab[i].page;
				if (p != EMPTY && p >= req->page && p - req->page < req->npages &&
				    remove_page(ss, p)) {
					s->used_pages--;
					continue; /* slot i now holds a shifted entry */
				}
				i++;
			}
		}
		return 0;
	}
	}
	return 0;
}
