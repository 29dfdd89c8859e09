/*
 * redis.c - the `redis` backend: far memory pooled over several Redis servers.
 *
 *     --backend redis://HOST:PORT[,HOST:PORT...][?replicas=N]
 *
 * Why Redis (docs/BACKENDS.md): a server users already run, whose maxmemory-policy
 * `noeviction` refuses a write when full instead of dropping a key, and whose client,
 * hiredis, lets this backend own its sockets: it pipelines on non-blocking connections
 * and polls them from the pager thread like the tcp backend, with no thread of its own.
 *
 * Placement.  Pages are grouped by 16 (GROUP_PAGES: 64 KiB), so a contiguous run
 * mostly lands on one server; a group's servers are the first replicas+1 distinct
 * ones clockwise from its hash on a ring of VNODES points per server (consistent
 * hashing, as ketama).  The ring never changes during a run: a server that fails is
 * down for good (it may come back empty, or with copies older than the replicas'), so
 * a read can never be answered with stale data by a server that came back.
 *
 * Keys are "fs:SESSION:PAGE" (SESSION: 64 random bits per backend, hex; PAGE hex), one
 * key per page, with no expiry.  A read of a run is one MGET per piece (the part of the
 * run in one group) to the piece's first live server; a write is one MSET per piece
 * to each of its live servers; a discard one DEL per piece per server.
 *
 * Each server gets two connections, as the tcp backend does: demand reads go alone on
 * the demand connection, so they never wait behind megabytes of prefetch replies;
 * prefetches, writes and discards go on the bulk connection.  Redis answers each
 * connection in order, so a FIFO per connection says which piece the next reply is
 * for.  A demand read of pages with a write still in flight on that server's bulk
 * connection goes on the bulk connection, behind the write (read-after-write).
 *
 * No silent loss:
 *   - at start every server must say maxmemory-policy is noeviction (CONFIG GET); one
 *     that evicts is refused; one that does not answer CONFIG is used with a warning;
 *   - a page missing on a server (evicted, flushed, the server restarted empty) is read
 *     from the next replica; missing on every replica stops the program with a message
 *     naming the page and the servers, never a zero page; a reply that is not a page
 *     (wrong size) likewise;
 *   - a write refused (OOM: maxmemory reached) is "far memory full";
 *   - a server whose connection breaks is marked lost: its reads in flight go to the
 *     next replica and its writes count as done where another replica took them.
 *     With replicas=0, or when every replica of some group is lost, pages are gone:
 *     a clear error, exit status 70.
 *
 * Keys outlive a process that dies without cleaning up, so at open a small janitor
 * process is forked (twice removed: not our child, so a program that waits for its
 * children never waits for it): it waits on a pipe that closes when this process
 * exits, execs or closes the backend (however that happens, SIGKILL included), then
 * deletes the session's keys from every server it can reach (SCAN MATCH fs:SESSION:*,
 * UNLINK).
 *
 * Single-threaded by contract (only the pager calls in); counters for stats() are
 * relaxed atomics.
 */
#include "backend/redis.h"
#include "common/util.h"

#include <errno.h>
#include <hiredis/sds.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int fail(struct redis_backend *r, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int fail(struct redis_backend *r, int code, const char *fmt, ...)
{
	if (r->err)
		return r->err;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(r->base.errmsg, sizeof(r->base.errmsg), fmt, ap);
	va_end(ap);
	r->err = code;
	return code;
}

/* ---- placement ---------------------------------------------------------------- */

static uint64_t mix64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ull;
	return x ^ (x >> 33);
}

static int point_cmp(const void *a, const void *b)
{
	uint64_t x = ((const struct point *)a)->hash, y = ((const struct point *)b)->hash;
	return x < y ? -1 : x > y;
}

int fs_redis_build_ring(struct redis_backend *r)
{
	r->npoints = r->nnodes * VNODES;
	r->ring = calloc((size_t)r->npoints, sizeof(*r->ring));
	if (!r->ring)
		return FS_ENOMEM;
	for (int n = 0, k = 0; n < r->nnodes; n++)
		for (int v = 0; v < VNODES; v++, k++) {
			char label[300];
			int len = snprintf(label, sizeof(label), "%s-%d", r->node[n].addr, v);
			r->ring[k].hash = mix64(fs_fnv1a(label, (size_t)len, FS_FNV_SEED));
			r->ring[k].rep[0] = (uint8_t)n;
		}
	qsort(r->ring, (size_t)r->npoints, sizeof(*r->ring), point_cmp);
	/* Each point's replica list: distinct servers walking clockwise. */
	for (int k = 0; k < r->npoints; k++) {
		int have = 0;
		for (int j = 0; j < r->npoints && have <= r->replicas; j++) {
			uint8_t n = r->ring[(k + j) % r->npoints].rep[0];
			int dup = 0;
			for (int i = 0; i < have; i++)
				dup |= r->ring[k].rep[i] == n;
			if (!dup)
				r->ring[k].rep[have++] = n;
		}
	}
	/* Only rep[1..] changed: rep[0], read above as "the server of point x", is each
	 * point's own server (j = 0 is never a duplicate). */
	return FS_OK;
}

static const uint8_t *replicas_of(struct redis_backend *r, uint64_t page)
{
	uint64_t h = mix64((page >> GROUP_SHIFT) + 0x9e3779b97f4a7c15ull);
	int lo = 0, hi = r->npoints;
	while (lo < hi) {
		int mid = (lo + hi) / 2;
		if (r->ring[mid].hash < h)
			lo = mid + 1;
		else
			hi = mid;
	}
	return r->ring[lo % r->npoints].rep;
}

/* ---- commands -------------------------------------------------------------------- */

static const char *key_of(struct redis_backend *r, int i, uint64_t page, size_t *len)
{
	int n = snprintf(r->keys[i], KEY_MAX, "fs:%s:%llx", r->session, (unsigned long long)page);
	*len = (size_t)n;
	return r->keys[i];
}

static int has_room(const struct conn *c)
{
	return c->count + MAX_PIECES <= CONN_CMDS && (!c->c->obuf || sdslen(c->c->obuf) < OUT_LIMIT);
}

static struct cmd *ring_at(const struct conn *c, uint32_t i)
{
	return &c->ring[(c->head + i) % c->cap];
}

static int ring_grow(struct conn *c)
{
	uint32_t cap = c->cap * 2;
	struct cmd *n = malloc(cap * sizeof(*n));
	if (!n)
		return FS_ENOMEM;
	for (uint32_t i = 0; i < c->count; i++)
		n[i] = *ring_at(c, i);
	free(c->ring);
	c->ring = n;
	c->head = 0;
	c->cap = cap;
	return FS_OK;
}

static int write_overlaps(const struct conn *c, uint64_t page, uint32_t n)
{
	if (!c->nwrites)
		return 0;
	for (uint32_t i = 0; i < c->count; i++) {
		const struct cmd *m = ring_at(c, i);
		if (m->kind == K_WRITE && m->page < page + n && page < m->page + m->npages)
			return 1;
	}
	return 0;
}

/* Append the command for a piece to connection c of node n (room was checked). */
static int send_cmd(struct redis_backend *r, int n, int which, uint32_t opi, uint64_t page,
		    uint32_t npages, int kind, int rank)
{
	struct op *op = &r->ops[opi];
	struct conn *c = &r->node[n].conn[which];
	int argc = 1;
	r->argv[0] = kind == K_READ ? "MGET" : kind == K_WRITE ? "MSET" : "DEL";
	r->argl[0] = strlen(r->argv[0]);
	for (uint32_t k = 0; k < npages; k++) {
		r->argv[argc] = key_of(r, (int)k, page + k, &r->argl[argc]);
		argc++;
		if (kind == K_WRITE) {
			r->argv[argc] = (const char *)op->buf + (page + k - op->page) * FS_PAGE_SIZE;
			r->argl[argc++] = FS_PAGE_SIZE;
		}
	}
	if ((c->count == c->cap && ring_grow(c)) ||
	    redisAppendCommandArgv(c->c, argc, r->argv, r->argl) != REDIS_OK)
		return fail(r, FS_ENOMEM, "redis backend: out of local memory for the send queue "
					  "of %s", r->node[n].addr);
	if (!c->count)
		fs_live_busy(&c->live, fs_now_ns());
	struct cmd *m = ring_at(c, c->count);
	*m = (struct cmd){ .op = opi, .page = page, .npages = npages, .kind = (uint8_t)kind,
			   .rank = (uint8_t)rank };
	c->count++;
	if (kind == K_WRITE)
		c->nwrites++;
	op->pending++;
	atomic_fetch_add_explicit(&r->commands, 1, RLX);
	return FS_OK;
}

/* Send a read piece to its first live replica from rank `from` on. */
static int send_read(struct redis_backend *r, uint32_t opi, uint64_t page, uint32_t npages,
		     int from, int demand)
{
	const uint8_t *rep = replicas_of(r, page);
	for (int k = from; k <= r->replicas; k++) {
		struct node *nd = &r->node[rep[k]];
		if (nd->lost)
			continue;
		int which = demand && !write_overlaps(&nd->conn[BULK], page, npages) ? DEMAND : BULK;
		return send_cmd(r, rep[k], which, opi, page, npages, K_READ, k);
	}
	return -1; /* no replica left */
}

static void flush_conn(struct redis_backend *r, struct node *nd, struct conn *c);

static void flush_all(struct redis_backend *r)
{
	for (int n = 0; n < r->nnodes; n++)
		for (int w = 0; w < 2; w++)
			if (!r->node[n].lost && r->node[n].conn[w].c->obuf &&
			    sdslen(r->node[n].conn[w].c->obuf))
				flush_conn(r, &r->node[n], &r->node[n].conn[w]);
}

static int room_everywhere(struct redis_backend *r)
{
	if (!r->nfree_ops)
		return 0;
	for (int n = 0; n < r->nnodes; n++)
		if (!r->node[n].lost && (!has_room(&r->node[n].conn[0]) || !has_room(&r->node[n].conn[1])))
			return 0;
	return 1;
}

static uint32_t op_new(struct redis_backend *r, const fs_io *io, int kind)
{
	uint32_t i = r->free_ops[--r->nfree_ops];
	r->ops[i] = (struct op){ .tag = io->tag, .page = io->page, .buf = io->buf,
				 .npages = io->npages, .kind = (uint8_t)kind, .used = 1 };
	if (kind != K_DEL)
		r->inflight++;
	return i;
}

static void complete(struct redis_backend *r, uint32_t opi)
{
	struct op *op = &r->ops[opi];
	if (op->kind != K_DEL) {
		r->done[(r->dhead + r->dcount) % MAX_OPS] = (fs_io_done){ .tag = op->tag, .status = FS_OK };
		r->dcount++;
		r->inflight--;
	}
	op->used = 0;
	r->free_ops[r->nfree_ops++] = opi;
}

static int check_io(struct redis_backend *r, const fs_io *io)
{
	if (io->npages == 0 || io->npages > FS_IO_MAX_PAGES || !io->buf)
		return fail(r, FS_ERANGE, "redis backend: request for pages %llu+%u is malformed",
			    (unsigned long long)io->page, io->npages);
	return FS_OK;
}

/* Split [page, page+n) at group boundaries: the length of the first piece. */
static uint32_t piece_len(uint64_t page, uint32_t n)
{
	uint32_t to_end = GROUP_PAGES - (uint32_t)(page & (GROUP_PAGES - 1));
	return n < to_end ? n : to_end;
}

static int lost_everywhere(struct redis_backend *r, uint64_t page)
{
	const uint8_t *rep = replicas_of(r, page);
	char names[600] = "";
	for (int k = 0; k <= r->replicas; k++)
		snprintf(names + strlen(names), sizeof(names) - strlen(names), "%s%s",
			 k ? ", " : "", r->node[rep[k]].addr);
	return fail(r, FS_EBACKEND,
		    "redis backend: page %llu is lost: every server that held it (%s) failed "
		    "(replicas=%d); the program cannot continue",
		    (unsigned long long)page, names, r->replicas);
}

static int redis_submit_read(fs_backend *b, const fs_io *ios, int n)
{
	struct redis_backend *r = (struct redis_backend *)b;
	if (r->err)
		return r->err;
	int i;
	for (i = 0; i < n; i++) {
		const fs_io *io = &ios[i];
		int rc = check_io(r, io);
		if (rc)
			return rc;
		if (!room_everywhere(r))
			break;
		uint32_t opi = op_new(r, io, K_READ);
		for (uint32_t off = 0; off < io->npages;) {
			uint32_t len = piece_len(io->page + off, io->npages - off);
			rc = send_read(r, opi, io->page + off, len, 0, io->flags & FS_IO_DEMAND);
			if (rc < 0 && !r->err)
				return lost_everywhere(r, io->page + off);
			if (rc)
				return rc;
			off += len;
		}
	}
	flush_all(r);
	return r->err ? r->err : i;
}

/* Send writes (K_WRITE) or discards (K_DEL) of a run to every live replica. */
static int send_to_replicas(struct redis_backend *r, uint32_t opi, int kind)
{
	struct op *op = &r->ops[opi];
	for (uint32_t off = 0; off < op->npages;) {
		uint64_t page = op->page + off;
		uint32_t len = piece_len(page, op->npages - off);
		const uint8_t *rep = replicas_of(r, page);
		int sent = 0;
		for (int k = 0; k <= r->replicas; k++) {
			if (r->node[rep[k]].lost)
				continue;
			int rc = send_cmd(r, rep[k], BULK, opi, page, len, kind, k);
			if (rc)
				return rc;
			sent++;
		}
		if (!sent)
			return lost_everywhere(r, page);
		if (kind == K_WRITE && sent <= r->replicas)
			atomic_fetch_add_explicit(&r->writes_degraded, 1, RLX);
		off += len;
	}
	return FS_OK;
}

static int redis_submit_write(fs_backend *b, const fs_io *ios, int n)
{
	struct redis_backend *r = (struct redis_backend *)b;
	if (r->err)
		return r->err;
	int i;
	for (i = 0; i < n; i++) {
		int rc = check_io(r, &ios[i]);
		if (rc)
			return rc;
		if (!room_everywhere(r))
			break;
		/* hiredis copies the payload into its send buffer: the bytes are taken. */
		if ((rc = send_to_replicas(r, op_new(r, &ios[i], K_WRITE), K_WRITE)))
			return rc;
	}
	flush_all(r);
	return r->err ? r->err : i;
}

static int redis_poll(fs_backend *b, fs_io_done *out, int max, int64_t timeout_ns);

static int redis_discard(fs_backend *b, uint64_t page, uint64_t npages)
{
	struct redis_backend *r = (struct redis_backend *)b;
	if (r->err)
		return r->err;
	while (npages) {
		uint32_t chunk = npages > FS_IO_MAX_PAGES ? FS_IO_MAX_PAGES : (uint32_t)npages;
		while (!room_everywhere(r)) {
			/* Make room: land completions into our own queue (poll returns them
			 * later; nothing is lost). */
			int rc = redis_poll(b, NULL, 0, 1000000);
			if (rc < 0)
				return rc;
		}
		fs_io io = { .page = page, .npages = chunk, .buf = NULL };
		int rc = send_to_replicas(r, op_new(r, &io, K_DEL), K_DEL);
		if (rc)
			return rc;
		page += chunk;
		npages -= chunk;
	}
	flush_all(r);
	return r->err;
}

/* ---- losing a server ---------------------------------------------------------------- */

static void pop_cmd(struct conn *c)
{
	if (c->ring[c->head].kind == K_WRITE)
		c->nwrites--;
	c->head = (c->head + 1) % c->cap;
	c->count--;
}

/* The connection to a server broke: it is lost for the rest of the run.  Its
 * commands in flight are settled elsewhere, or the run stops. */
static void node_lost(struct redis_backend *r, struct node *nd, const char *why)
{
	if (nd->lost || r->err)
		return;
	nd->lost = 1;
	r->nlost++;
	atomic_store_explicit(&r->lost_at_ns, fs_now_ns(), RLX);
	if (r->replicas == 0) {
		fail(r, FS_EBACKEND,
		     "redis backend: lost the server %s (%s); with replicas=0 the pages it held "
		     "are gone, so the program cannot continue (run with ?replicas=1 to survive "
		     "the loss of a server)",
		     nd->addr, why);
		return;
	}
	/* Is any group left without a live server? */
	for (int k = 0; k < r->npoints; k++) {
		int live = 0;
		for (int j = 0; j <= r->replicas; j++)
			live |= !r->node[r->ring[k].rep[j]].lost;
		if (!live) {
			fail(r, FS_EBACKEND,
			     "redis backend: lost the server %s (%s), and with it the last copy of "
			     "some pages (%d of %d servers lost, replicas=%d); the program cannot "
			     "continue",
			     nd->addr, why, r->nlost, r->nnodes, r->replicas);
			return;
		}
	}
	fs_log(0, "redis backend: lost the server %s (%s); its pages are read from their "
		  "replicas from now on (%d of %d servers lost, replicas=%d)",
	       nd->addr, why, r->nlost, r->nnodes, r->replicas);
	for (int w = 0; w < 2; w++) {
		struct conn *c = &nd->conn[w];
		while (c->count && !r->err) {
			struct cmd m = c->ring[c->head];
			pop_cmd(c);
			struct op *op = &r->ops[m.op];
			op->pending--;
			if (m.kind == K_READ) {
				atomic_fetch_add_explicit(&r->reads_failed_over, 1, RLX);
				if (send_read(r, m.op, m.page, m.npages, m.rank + 1, 0) < 0 && !r->err)
					lost_everywhere(r, m.page);
			} else if (m.kind == K_WRITE) {
				/* Taken where another live replica got the same command. */
				atomic_fetch_add_explicit(&r->writes_degraded, 1, RLX);
			}
			if (!r->err && op->pending == 0)
				complete(r, m.op);
		}
		/* Drop what hiredis still holds for it; the context stays allocated until
		 * close, so pointers into it stay valid. */
		if (c->c->fd >= 0) {
			close(c->c->fd);
			c->c->fd = -1;
		}
	}
	flush_all(r);
}

/* ---- receiving -------------------------------------------------------------------- */

/* Send what hiredis queued for c, as far as the socket takes it.  Our own send(), not
 * redisBufferWrite: on an error hiredis builds its sentence with strerror_r, whose
 * translation lookup walks gettext's tables - malloc'd by the program's setlocale, so
 * in far memory, where the pager itself would fault and hang.  For the same reason
 * every errno sentence of the pager's paths here comes from strerrordesc_np. */
static void flush_conn(struct redis_backend *r, struct node *nd, struct conn *c)
{
	while (!nd->lost && c->c->obuf) {
		size_t len = sdslen(c->c->obuf);
		if (!len)
			return;
		ssize_t n = send(c->c->fd, c->c->obuf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return; /* the socket is full: poll() sends the rest */
		if (n < 0) {
			node_lost(r, nd, strerrordesc_np(errno));
			return;
		}
		sdsrange(c->c->obuf, (int)n, -1);
	}
}

/* A reply for the oldest command of c. */
static int take_reply(struct redis_backend *r, struct node *nd, struct conn *c, redisReply *rep)
{
	if (!c->count)
		return fail(r, FS_EBACKEND, "redis backend: %s sent a reply nobody asked for",
			    nd->addr);
	struct cmd m = c->ring[c->head];
	pop_cmd(c);
	struct op *op = &r->ops[m.op];
	if (rep->type == REDIS_REPLY_ERROR) {
		if (m.kind == K_WRITE && !strncmp(rep->str, "OOM", 3))
			return fail(r, FS_EFULL,
				    "far memory full: redis at %s refused to store %u more pages (%s); "
				    "give the servers a larger maxmemory, add servers, or give the "
				    "program more --local-mem",
				    nd->addr, m.npages, rep->str);
		return fail(r, FS_EBACKEND, "redis backend: %s answered %s with an error: %s",
			    nd->addr, m.kind == K_READ ? "MGET" : m.kind == K_WRITE ? "MSET" : "DEL",
			    rep->str);
	}
	if (m.kind == K_READ) {
		if (rep->type != REDIS_REPLY_ARRAY || rep->elements != m.npages)
			return fail(r, FS_EBACKEND, "redis backend: %s answered MGET of %u keys with "
						    "something else (reply type %d)",
				    nd->addr, m.npages, rep->type);
		for (uint32_t k = 0; k < m.npages; k++) {
			redisReply *e = rep->element[k];
			if (e->type == REDIS_REPLY_NIL) {
				/* Missing here (evicted, flushed, restarted empty): the next
				 * replica, or the end of the run. */
				op->pending--;
				atomic_fetch_add_explicit(&r->reads_from_replica, 1, RLX);
				int rc = send_read(r, m.op, m.page, m.npages, m.rank + 1, 0);
				if (rc < 0 && !r->err) {
					const uint8_t *rp = replicas_of(r, m.page);
					char names[600] = "";
					for (int j = 0; j <= r->replicas; j++)
						snprintf(names + strlen(names), sizeof(names) - strlen(names),
							 "%s%s%s", j ? ", " : "", r->node[rp[j]].addr,
							 r->node[rp[j]].lost ? " (lost)" : "");
					return fail(r, FS_EBACKEND,
						    "redis backend: page %llu is missing on every replica "
						    "(%s): the engine dropped it (evicted, flushed or restarted "
						    "empty); farsight never reads a lost page as zeros, so the "
						    "program stops (run redis with --maxmemory-policy noeviction)",
						    (unsigned long long)(m.page + k), names);
				}
				return rc;
			}
			if (e->type != REDIS_REPLY_STRING || e->len != FS_PAGE_SIZE)
				return fail(r, FS_EBACKEND,
					    "redis backend: %s holds %zu bytes under the key of page %llu, "
					    "not a page: another program wrote to farsight's keys",
					    nd->addr, e->type == REDIS_REPLY_STRING ? e->len : 0,
					    (unsigned long long)(m.page + k));
		}
		for (uint32_t k = 0; k < m.npages; k++)
			memcpy((char *)op->buf + (m.page + k - op->page) * FS_PAGE_SIZE,
			       rep->element[k]->str, FS_PAGE_SIZE);
	}
	if (--op->pending == 0)
		complete(r, m.op);
	return FS_OK;
}

/* Read what has arrived on c without blocking and take every complete reply. */
static void rx(struct redis_backend *r, struct node *nd, struct conn *c)
{
	for (;;) {
		ssize_t got = read(c->c->fd, r->rxbuf, RX_CHUNK);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (got <= 0) {
			node_lost(r, nd, got == 0 ? "the server closed the connection" : strerrordesc_np(errno));
			return;
		}
		if (redisReaderFeed(c->c->reader, (const char *)r->rxbuf, (size_t)got) != REDIS_OK) {
			fail(r, FS_ENOMEM, "redis backend: out of local memory for replies");
			return;
		}
		for (;;) {
			void *rep = NULL;
			if (redisGetReplyFromReader(c->c, &rep) != REDIS_OK) {
				fail(r, FS_EBACKEND, "redis backend: %s sent a malformed reply: %s",
				     nd->addr, c->c->errstr);
				return;
			}
			if (!rep)
				break;
			int rc = take_reply(r, nd, c, rep);
			freeReplyObject(rep);
			if (rc)
				return;
		}
		fs_live_heard(&c->live, fs_now_ns(), c->count > 0);
		if ((size_t)got < RX_CHUNK)
			return;
	}
}

/* The deadline (backend_timeout_ms, shared with the tcp backend: backend.h): a
 * server whose connection has had commands in flight and heard nothing for that long
 * is lost, as if its connection had broken (a stopped or partitioned server fails
 * over to the replicas instead of stalling the program).  Returns how long poll may
 * still wait, in ns. */
static uint64_t check_silence(struct redis_backend *r, uint64_t now)
{
	uint64_t left = UINT64_MAX, limit = (uint64_t)r->timeout_ms * 1000000ull;
	for (int k = 0; k < r->nnodes && !r->err; k++)
		for (int w = 0; w < 2 && !r->node[k].lost; w++) {
			struct conn *c = &r->node[k].conn[w];
			uint64_t l = fs_live_left(&c->live, now, limit);
			if (l) {
				left = FS_MIN(left, l);
				continue;
			}
			/* Bytes may be waiting that nobody read yet (this process was
			 * stopped, or busy elsewhere): that is not silence. */
			struct pollfd pf = { .fd = c->c->fd, .events = POLLIN };
			if (poll(&pf, 1, 0) > 0) {
				c->live.quiet_since = now;
				continue;
			}
			/* Integers only: the pager must not format floats (backend.c). */
			char why[160];
			uint64_t ds = (now - c->live.quiet_since) / 100000000ull;
			snprintf(why, sizeof(why), "it sent nothing for %llu.%llu s with %u commands "
				 "waiting (backend_timeout_ms %u)", (unsigned long long)(ds / 10),
				 (unsigned long long)(ds % 10), c->count, r->timeout_ms);
			node_lost(r, &r->node[k], why);
		}
	return left;
}

static int redis_poll(fs_backend *b, fs_io_done *out, int max, int64_t timeout_ns)
{
	struct redis_backend *r = (struct redis_backend *)b;
	uint64_t deadline = timeout_ns < 0 ? UINT64_MAX : fs_now_ns() + (uint64_t)timeout_ns;
	struct pollfd pf[2 * MAX_NODES];
	struct conn *pc[2 * MAX_NODES];
	struct node *pn[2 * MAX_NODES];
	/* max == 0 (discard making room): one round of waiting and receiving, then return;
	 * completions stay queued for a later poll. */
	for (;;) {
		if (r->err && (!r->dcount || max == 0))
			return r->err;
		if (r->dcount && max > 0) {
			int n = 0;
			while (n < max && r->dcount) {
				out[n++] = r->done[r->dhead];
				r->dhead = (r->dhead + 1) % MAX_OPS;
				r->dcount--;
			}
			return n;
		}
		/* Wait for the live connections with commands in flight (or unsent bytes);
		 * demand connections first, so their replies are taken first. */
		int np = 0;
		for (int w = DEMAND; w >= BULK; w--)
			for (int k = 0; k < r->nnodes; k++) {
				struct node *nd = &r->node[k];
				struct conn *c = &nd->conn[w];
				int unsent = c->c->obuf && sdslen(c->c->obuf);
				if (nd->lost || (!c->count && !unsent))
					continue;
				pf[np] = (struct pollfd){ .fd = c->c->fd,
							  .events = POLLIN | (unsent ? POLLOUT : 0) };
				pc[np] = c;
				pn[np++] = nd;
			}
		if (!np)
			return 0;
		uint64_t now = fs_now_ns();
		uint64_t live_left = check_silence(r, now);
		if (r->err || (r->dcount && max > 0))
			continue; /* lost (an error), or its reads failed over and completed */
		struct timespec ts = { 0, 0 }, *tsp = NULL;
		if (deadline != UINT64_MAX || live_left != UINT64_MAX) {
			uint64_t left = now >= deadline ? 0 : FS_MIN(deadline - now, live_left);
			ts.tv_sec = (time_t)(left / 1000000000ull);
			ts.tv_nsec = (long)(left % 1000000000ull);
			tsp = &ts;
		}
		int pr = ppoll(pf, (nfds_t)np, tsp, NULL);
		if (pr < 0 && errno != EINTR)
			return fail(r, FS_EBACKEND, "redis backend: poll failed: %s", strerrordesc_np(errno));
		for (int i = 0; i < np && pr > 0 && !r->err; i++) {
			if (pn[i]->lost)
				continue;
			if (pf[i].revents & POLLOUT)
				flush_conn(r, pn[i], pc[i]);
			if (!pn[i]->lost && (pf[i].revents & (POLLIN | POLLHUP | POLLERR)))
				rx(r, pn[i], pc[i]);
		}
		if (r->dcount && max > 0)
			continue;
		if (max == 0 || fs_now_ns() >= deadline)
			return r->err;
	}
}

static int redis_inflight(fs_backend *b)
{
	struct redis_backend *r = (struct redis_backend *)b;
	return (int)(r->dcount + r->inflight);
}

static int redis_stats(fs_backend *b, fs_named_stat *out, int max)
{
	struct redis_backend *r = (struct redis_backend *)b;
	uint64_t lost_at = atomic_load_explicit(&r->lost_at_ns, RLX);
	uint64_t start = atomic_load_explicit(&r->start_ns, RLX);
	fs_named_stat s[] = {
		{ "servers", (double)r->nnodes },
		{ "replicas", (double)r->replicas },
		{ "servers_lost", (double)atomic_load_explicit(&r->nlost, RLX) },
		{ "last_loss_s", lost_at ? (double)(lost_at - start) / 1e9 : 0 },
		{ "reads_failed_over", (double)atomic_load_explicit(&r->reads_failed_over, RLX) },
		{ "reads_from_replica", (double)atomic_load_explicit(&r->reads_from_replica, RLX) },
		{ "writes_degraded", (double)atomic_load_explicit(&r->writes_degraded, RLX) },
		{ "commands", (double)atomic_load_explicit(&r->commands, RLX) },
	};
	int n = FS_MIN(max, (int)FS_ARRAY_SIZE(s));
	memcpy(out, s, (size_t)n * sizeof(*out));
	return n;
}

void fs_redis_close(fs_backend *b)
{
	struct redis_backend *r = (struct redis_backend *)b;
	for (int n = 0; n < r->nnodes; n++)
		for (int w = 0; w < 2; w++) {
			if (r->node[n].conn[w].c)
				redisFree(r->node[n].conn[w].c);
			free(r->node[n].conn[w].ring);
		}
	if (r->janitor_fd >= 0)
		close(r->janitor_fd); /* the janitor deletes the session's keys now */
	free(r->ring);
	free(r->ops);
	free(r->free_ops);
	free(r->done);
	free(r->rxbuf);
	free(r);
}

const fs_backend_ops fs_redis_ops = {
	.name = "redis",
	.submit_read = redis_submit_read,
	.submit_write = redis_submit_write,
	.poll = redis_poll,
	.discard = redis_discard,
	.inflight = redis_inflight,
	.stats = redis_stats,
	.close = fs_redis_close,
};
