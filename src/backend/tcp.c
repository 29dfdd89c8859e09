/*
 * tcp.c - the `tcp` backend: far memory held by `farsight memd` (docs/PROTOCOL.md).
 *
 * Two TCP connections to one server session:
 *   - the demand connection carries only FS_IO_DEMAND reads, so a demand read never
 *     sits behind megabytes of prefetch data in a socket buffer (TCP is one FIFO
 *     byte stream; the server cannot reorder what it has already sent);
 *   - the bulk connection carries prefetch reads, writes and discards.
 * A demand read of a page with a write still in flight on the bulk connection goes on
 * the bulk connection instead, behind that write: that keeps the contract "a read
 * submitted after a write of the same page returns the written data".
 *
 * Pipelining: each connection keeps a FIFO ring of up to FSP_MAX_INFLIGHT requests;
 * memd answers each connection in order, so the ring says what the next response is
 * and where its data goes.  Receiving is one recvmsg() over a scatter list built from
 * the ring - [header 0, io->buf 0, header 1, ...] - so read data lands directly in
 * the pager's page frames, and one system call can complete many requests.
 *
 * Sending: submit_* append request headers (and write payloads) for the whole batch
 * and send them in one sendmsg().  A write's payload is sent from the caller's buffer
 * when nothing is queued before it; whatever the socket does not take at once is
 * copied into the connection's output buffer, so submit_write returns only when the
 * bytes are taken, as backend.h requires.  poll() sends the rest as the socket drains.
 *
 * A late hit (a thread now waits on a page a queued prefetch brings) is promoted: the
 * read is sent again on the demand connection and the bulk copy voided (tcp_promote).
 *
 * Errors are sticky.  A broken connection (memd died, reset, protocol violation) is
 * FS_EBACKEND with a sentence naming the server: memd frees a client's pages when its
 * connections close, so there is nothing to reconnect to (docs/PROTOCOL.md, "Why no
 * reconnect").  A refused write is FS_EFULL, "far memory full".
 *
 * Single-threaded by contract: only the pager thread calls in, so there are no locks.
 */
#include "backend/backend.h"
#include "proto/memd_proto.h"
#include "common/util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#define OUT_LIMIT (16u << 20)      /* queued unsent bytes per connection before "full" */
#define HANDSHAKE_TIMEOUT_MS 5000
#define MAX_IOV 64

struct req {
	uint64_t tag;
	uint64_t page;
	void *buf;
	uint32_t npages;
	uint8_t op;
	uint8_t hdr[FSP_HDR_LEN]; /* the response header is received here */
	size_t got;               /* response bytes received so far */
	uint8_t voided;           /* promoted: its data goes to the sink, no completion */
};

struct tconn {
	int fd;
	const char *name;   /* "demand" or "bulk", for messages */
	struct req *ring;   /* FSP_MAX_INFLIGHT entries */
	uint32_t head, count;
	uint32_t nwrites;   /* writes among the ring's requests */
	unsigned char *out; /* bytes taken but not yet sent */
	size_t out_off, out_len, out_cap;
	fs_liveness live;   /* silence while requests are outstanding (backend_timeout_ms) */
	uint64_t logged_longest; /* the longest silence last logged (FARSIGHT_DEBUG) */
};

struct tcp_backend {
	fs_backend base;
	struct tconn conn[2]; /* [0] bulk, [1] demand */
	int nconn;            /* 1 when FARSIGHT_TCP_ONE_CONN=1 (for measurements) */
	fs_io_done *done;     /* completions not yet returned by poll */
	uint32_t dhead, dcount, dcap;
	int err;              /* sticky FS_E* */
	uint64_t capacity_pages;
	uint32_t timeout_ms;  /* backend_timeout_ms: a longer silence means memd is gone */
	char where[300];      /* "memd at HOST:PORT" */
	unsigned char *sink;  /* FS_IO_MAX_PAGES pages: where voided reads' data goes */
};

#define BULK(t) (&(t)->conn[0])
#define DEMAND(t) (&(t)->conn[(t)->nconn - 1])

static uint64_t resp_len(const struct req *r)
{
	return FSP_HDR_LEN + (r->op == FSP_OP_READ ? (uint64_t)r->npages * FS_PAGE_SIZE : 0);
}

/* Make an error sticky; the first sentence wins, since later errors are usually
 * consequences of it. */
static int fail(struct tcp_backend *t, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int fail(struct tcp_backend *t, int code, const char *fmt, ...)
{
	if (t->err)
		return t->err;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(t->base.errmsg, sizeof(t->base.errmsg), fmt, ap);
	va_end(ap);
	t->err = code;
	return code;
}

static int broken(struct tcp_backend *t, struct tconn *c, const char *what)
{
	uint32_t n = t->conn[0].count + (t->nconn > 1 ? t->conn[1].count : 0);
	return fail(t, FS_EBACKEND,
		    "tcp backend: the connection to %s broke (%s) with %u requests in flight; "
		    "the server no longer holds this program's pages, so it cannot continue "
		    "(see memd's log)",
		    t->where, what, n);
}

/* ---- output ---------------------------------------------------------------- */

static int out_append(struct tcp_backend *t, struct tconn *c, const void *p, size_t n)
{
	if (c->out_off == c->out_len)
		c->out_off = c->out_len = 0;
	if (c->out_cap - c->out_len < n) {
		if (c->out_off) {
			memmove(c->out, c->out + c->out_off, c->out_len - c->out_off);
			c->out_len -= c->out_off;
			c->out_off = 0;
		}
		if (c->out_cap - c->out_len < n) {
			size_t cap = c->out_cap ? c->out_cap : 65536;
			while (cap - c->out_len < n)
				cap *= 2;
			unsigned char *d = realloc(c->out, cap);
			if (!d)
				return fail(t, FS_ENOMEM, "tcp backend: out of local memory for a "
							  "%zu-byte send queue", cap);
			c->out = d;
			c->out_cap = cap;
		}
	}
	memcpy(c->out + c->out_len, p, n);
	c->out_len += n;
	return 0;
}

static int out_flush(struct tcp_backend *t, struct tconn *c)
{
	while (c->out_off < c->out_len) {
		ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (n < 0)
			return broken(t, c, strerror(errno));
		c->out_off += (size_t)n;
	}
	c->out_off = c->out_len = 0;
	return 0;
}

/* Send iov[0..n) now as far as the socket takes it; copy the rest to the queue. */
static int send_or_queue(struct tcp_backend *t, struct tconn *c, struct iovec *iov, int n)
{
	size_t sent = 0;
	if (c->out_off == c->out_len) {
		struct msghdr mh = { .msg_iov = iov, .msg_iovlen = (size_t)n };
		ssize_t r;
		do
			r = sendmsg(c->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
		while (r < 0 && errno == EINTR);
		if (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
			return broken(t, c, strerror(errno));
		sent = r > 0 ? (size_t)r : 0;
	}
	for (int i = 0; i < n; i++) {
		if (sent >= iov[i].iov_len) {
			sent -= iov[i].iov_len;
			continue;
		}
		int rc = out_append(t, c, (char *)iov[i].iov_base + sent, iov[i].iov_len - sent);
		if (rc)
			return rc;
		sent = 0;
	}
	return 0;
}

/* ---- submitting ------------------------------------------------------------- */

static int check_ios(struct tcp_backend *t, const fs_io *ios, int n)
{
	for (int i = 0; i < n; i++) {
		const fs_io *io = &ios[i];
		if (io->npages == 0 || io->npages > FSP_MAX_PAGES || !io->buf ||
		    io->page > FSP_MAX_PAGE_INDEX || io->npages - 1 > FSP_MAX_PAGE_INDEX - io->page)
			return fail(t, FS_ERANGE,
				    "tcp backend: request for pages %llu+%u is outside what memd "
				    "serves (1..%d pages per request)",
				    (unsigned long long)io->page, io->npages, FSP_MAX_PAGES);
	}
	return 0;
}

static int has_room(struct tcp_backend *t, struct tconn *c)
{
	uint32_t total = t->dcount + t->conn[0].count + (t->nconn > 1 ? t->conn[1].count : 0);
	return c->count < FSP_MAX_INFLIGHT && total < t->dcap && c->out_len - c->out_off < OUT_LIMIT;
}

static struct req *push(struct tconn *c, const fs_io *io, uint8_t op)
{
	if (!c->count)
		fs_live_busy(&c->live, fs_now_ns());
	struct req *r = &c->ring[(c->head + c->count) % FSP_MAX_INFLIGHT];
	c->count++;
	r->tag = io->tag;
	r->page = io->page;
	r->buf = io->buf;
	r->npages = io->npages;
	r->op = op;
	r->got = 0;
	r->voided = 0;
	if (op == FSP_OP_WRITE)
		c->nwrites++;
	return r;
}

static void encode(unsigned char *out, const fs_io *io, uint8_t op, uint8_t flags)
{
	fsp_hdr h = { .op = op, .flags_or_status = flags, .npages = io->npages,
		      .page = io->page, .tag = io->tag };
	fsp_hdr_encode(out, &h);
}

/* Does a write still in flight on c overlap io's pages? */
static int write_overlaps(const struct tconn *c, const fs_io *io)
{
	if (!c->nwrites)
		return 0;
	for (uint32_t i = 0; i < c->count; i++) {
		const struct req *r = &c->ring[(c->head + i) % FSP_MAX_INFLIGHT];
		if (r->op == FSP_OP_WRITE && r->page < io->page + io->npages &&
		    io->page < r->page + r->npages)
			return 1;
	}
	return 0;
}

static int tcp_submit_read(fs_backend *b, const fs_io *ios, int n)
{
	struct tcp_backend *t = (struct tcp_backend *)b;
	if (t->err)
		return t->err;
	int i, rc;
	if ((rc = check_ios(t, ios, n)))
		return rc;
	for (i = 0; i < n; i++) {
		const fs_io *io = &ios[i];
		int demand = (io->flags & FS_IO_DEMAND) && !write_overlaps(BULK(t), io);
		struct tconn *c = demand ? DEMAND(t) : BULK(t);
		if (!has_room(t, c))
			break;
		unsigned char hdr[FSP_HDR_LEN];
		encode(hdr, io, FSP_OP_READ, (io->flags & FS_IO_DEMAND) ? FSP_REQ_DEMAND : 0);
		if ((rc = out_append(t, c, hdr, sizeof(hdr))))
			return rc;
		push(c, io, FSP_OP_READ);
	}
	/* One send per connection for the whole batch. */
	for (int k = t->nconn - 1; k >= 0; k--)
		if ((rc = out_flush(t, &t->conn[k])))
			return rc;
	return i;
}

static int tcp_submit_write(fs_backend *b, const fs_io *ios, int n)
{
	struct tcp_backend *t = (struct tcp_backend *)b;
	if (t->err)
		return t->err;
	struct tconn *c = BULK(t);
	unsigned char hdrs[MAX_IOV / 2][FSP_HDR_LEN];
	struct iovec iov[MAX_IOV];
	int i = 0, rc;
	if ((rc = check_ios(t, ios, n)))
		return rc;
	while (i < n) {
		int k = 0;
		for (; i < n && k < MAX_IOV / 2; i++, k++) {
			const fs_io *io = &ios[i];
			if (!has_room(t, c))
				break;
			encode(hdrs[k], io, FSP_OP_WRITE, 0);
			iov[2 * k] = (struct iovec){ hdrs[k], FSP_HDR_LEN };
			iov[2 * k + 1] = (struct iovec){ io->buf, (size_t)io->npages * FS_PAGE_SIZE };
			push(c, io, FSP_OP_WRITE);
		}
		if (k && (rc = send_or_queue(t, c, iov, 2 * k)))
			return rc;
		if (k < MAX_IOV / 2 && i < n)
			break; /* no room */
	}
	return i;
}

static int tcp_discard(fs_backend *b, uint64_t page, uint64_t npages)
{
	struct tcp_backend *t = (struct tcp_backend *)b;
	if (t->err)
		return t->err;
	if (page > FSP_MAX_PAGE_INDEX || (npages && npages - 1 > FSP_MAX_PAGE_INDEX - page))
		return FS_ERANGE;
	while (npages) {
		uint32_t chunk = npages > FSP_MAX_DISCARD ? FSP_MAX_DISCARD : (uint32_t)npages;
		fs_io io = { .page = page, .npages = chunk };
		unsigned char hdr[FSP_HDR_LEN];
		encode(hdr, &io, FSP_OP_DISCARD, 0);
		int rc = out_append(t, BULK(t), hdr, sizeof(hdr));
		if (rc)
			return rc;
		page += chunk;
		npages -= chunk;
	}
	return out_flush(t, BULK(t));
}

/* ---- receiving -------------------------------------------------------------- */

static void complete(struct tcp_backend *t, uint64_t tag, int status)
{
	uint32_t at = (t->dhead + t->dcount) % t->dcap;
	t->done[at].tag = tag;
	t->done[at].status = status;
	t->dcount++;
}

/* The response header of r is complete: check it matches the request. */
static int check_response(struct tcp_backend *t, struct tconn *c, struct req *r)
{
	fsp_hdr h;
	fsp_hdr_decode(r->hdr, &h);
	if (h.op != r->op || h.tag != r->tag || h.page != r->page || h.npages != r->npages)
		return fail(t, FS_EBACKEND,
			    "tcp backend: %s sent a response that matches no request (op %u, "
			    "page %llu); is it a farsight memd of this version?",
			    t->where, h.op, (unsigned long long)h.page);
	if (h.flags_or_status == FSP_ST_OK)
		return 0;
	if (h.flags_or_status == FSP_ST_FULL && r->op == FSP_OP_WRITE)
		return fail(t, FS_EFULL,
			    "far memory full: %s refused to store %u more pages (it holds at "
			    "most %llu MiB for all its clients); start memd with a larger "
			    "--capacity, or give the program more --local-mem",
			    t->where, r->npages, (unsigned long long)(t->capacity_pages / 256));
	if (h.flags_or_status == FSP_ST_NOT_WRITTEN)
		return fail(t, FS_EBACKEND,
			    "tcp backend: %s has no copy of page %llu (+%u): it was never "
			    "written, or was discarded",
			    t->where, (unsigned long long)r->page, r->npages);
	return fail(t, FS_EBACKEND, "tcp backend: %s answered with unknown status %u",
		    t->where, h.flags_or_status);
}

/* Receive whatever has arrived on c without blocking; complete finished requests. */
static int rx(struct tcp_backend *t, struct tconn *c)
{
	for (;;) {
		if (c->count == 0) {
			/* Nothing expected: anything readable is EOF or a protocol error. */
			char byte;
			ssize_t r = recv(c->fd, &byte, 1, MSG_DONTWAIT | MSG_PEEK);
			if (r == 0)
				return broken(t, c, "memd closed the connection");
			if (r > 0)
				return fail(t, FS_EBACKEND, "tcp backend: %s sent data nobody asked "
							    "for; is it a farsight memd of this version?",
					    t->where);
			if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
				return 0;
			return broken(t, c, strerror(errno));
		}
		struct iovec iov[MAX_IOV];
		int n = 0;
		size_t want = 0;
		for (uint32_t i = 0; i < c->count && n < MAX_IOV - 1; i++) {
			struct req *r = &c->ring[(c->head + i) % FSP_MAX_INFLIGHT];
			if (r->got < FSP_HDR_LEN)
				iov[n++] = (struct iovec){ r->hdr + r->got, FSP_HDR_LEN - r->got };
			uint64_t len = resp_len(r);
			if (len > FSP_HDR_LEN) {
				size_t off = r->got > FSP_HDR_LEN ? r->got - FSP_HDR_LEN : 0;
				iov[n++] = (struct iovec){ (char *)r->buf + off,
							   len - FSP_HDR_LEN - off };
			}
		}
		for (int i = 0; i < n; i++)
			want += iov[i].iov_len;
		struct msghdr mh = { .msg_iov = iov, .msg_iovlen = (size_t)n };
		ssize_t got = recvmsg(c->fd, &mh, MSG_DONTWAIT);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (got < 0)
			return broken(t, c, strerror(errno));
		if (got == 0)
			return broken(t, c, "memd closed the connection");
		size_t left = (size_t)got;
		while (left) {
			struct req *r = &c->ring[c->head];
			size_t len = resp_len(r);
			size_t take = FS_MIN(left, len - r->got);
			int had_hdr = r->got >= FSP_HDR_LEN;
			r->got += take;
			left -= take;
			/* A READ whose status is not OK has no payload; check_response then
			 * fails the backend before any of the misplaced bytes are used. */
			if (!had_hdr && r->got >= FSP_HDR_LEN) {
				int rc = check_response(t, c, r);
				if (rc && rc != FS_EFULL)
					return rc;
				if (rc == FS_EFULL) {
					complete(t, r->tag, FS_EFULL);
					goto pop;
				}
			}
			if (r->got < len)
				break;
			if (!r->voided) /* a promoted read completes on the demand connection */
				complete(t, r->tag, FS_OK);
		pop:
			if (r->op == FSP_OP_WRITE)
				c->nwrites--;
			c->head = (c->head + 1) % FSP_MAX_INFLIGHT;
			c->count--;
		}
		fs_live_heard(&c->live, fs_now_ns(), c->count > 0);
		if (c->live.longest > c->logged_longest + c->logged_longest / 2 + 1000000) {
			/* The measurement behind backend_timeout_ms's default (docs/TUNING.md);
			 * logged as it grows, since a preloaded runtime is never closed. */
			c->logged_longest = c->live.longest;
			fs_log(2, "tcp backend: longest silence of %s on the %s connection so far: "
				  "%llu us", t->where, c->name,
			       (unsigned long long)(c->live.longest / 1000)); /* no float: see backend.c */
		}
		if ((size_t)got < want)
			return 0; /* a short read: the socket is drained, skip the EAGAIN call */
	}
}

/* Receive on the connections poll() found readable (all of them when readable is
 * NULL), demand connection first.  Returns as soon as the demand connection completed
 * something, so a demand page is handed over before megabytes of bulk data are read. */
static void rx_all(struct tcp_backend *t, const struct pollfd *readable)
{
	for (int k = t->nconn - 1; k >= 0 && !t->err; k--) {
		struct tconn *c = &t->conn[k];
		if (c->out_off < c->out_len)
			out_flush(t, c);
		if (t->err)
			return;
		/* An idle connection is only read when poll says so (EOF or stray data):
		 * saves a system call per poll. */
		if (readable ? !(readable[k].revents & (POLLIN | POLLHUP | POLLERR)) : !c->count)
			continue;
		uint32_t before = t->dcount;
		rx(t, c);
		if (k == t->nconn - 1 && k > 0 && t->dcount > before)
			return;
	}
}

/* The deadline (backend_timeout_ms): how long poll may still wait for memd, or a
 * sticky error once a connection with requests outstanding has heard nothing for
 * that long.  A stopped or partitioned memd then stops the program with a sentence
 * naming it instead of stalling it forever (docs/PROTOCOL.md "Deadline"). */
static int64_t deadline_left(struct tcp_backend *t, uint64_t now)
{
	uint64_t left = UINT64_MAX, limit = (uint64_t)t->timeout_ms * 1000000ull;
	for (int k = 0; k < t->nconn; k++) {
		struct tconn *c = &t->conn[k];
		uint64_t l = fs_live_left(&c->live, now, limit);
		if (l == 0) {
			/* Data may be waiting that nobody read yet (this process was stopped,
			 * or busy with the other connection): that is not silence. */
			struct pollfd pf = { .fd = c->fd, .events = POLLIN };
			if (poll(&pf, 1, 0) > 0) {
				c->live.quiet_since = now;
				continue;
			}
			char server[sizeof(t->where) + 40];
			snprintf(server, sizeof(server), "tcp backend: %s (%s connection)", t->where,
				 c->name);
			fs_live_expired_msg(&t->base, server, &c->live, now,
					    t->conn[0].count + (t->nconn > 1 ? t->conn[1].count : 0),
					    t->timeout_ms);
			t->err = FS_EBACKEND;
			return -1;
		}
		left = FS_MIN(left, l);
	}
	return left > INT64_MAX ? INT64_MAX : (int64_t)left;
}

static int tcp_poll(fs_backend *b, fs_io_done *out, int max, int64_t timeout_ns)
{
	struct tcp_backend *t = (struct tcp_backend *)b;
	uint64_t deadline = timeout_ns < 0 ? UINT64_MAX : fs_now_ns() + (uint64_t)timeout_ns;
	int first = 1;
	for (;;) {
		if (!t->dcount && t->err)
			return t->err;
		uint32_t busy = t->conn[0].count + (t->nconn > 1 ? t->conn[1].count : 0);
		if (!t->dcount && timeout_ns == 0 && first)
			rx_all(t, NULL); /* non-blocking: just look */
		first = 0;
		if (t->dcount) {
			int n = 0;
			while (n < max && t->dcount) {
				out[n++] = t->done[t->dhead];
				t->dhead = (t->dhead + 1) % t->dcap;
				t->dcount--;
			}
			return n;
		}
		if (t->err)
			return t->err;
		if (!busy)
			return 0;
		uint64_t now = fs_now_ns();
		int64_t live_left = deadline_left(t, now);
		if (live_left < 0)
			return t->err;
		if (timeout_ns == 0 || now >= deadline)
			return 0;
		/* Wait first, then read only what is ready: when data is already there
		 * ppoll returns at once, so this costs no more than a speculative recv. */
		struct pollfd pf[2];
		for (int k = 0; k < t->nconn; k++) {
			struct tconn *c = &t->conn[k];
			pf[k].fd = c->fd;
			pf[k].events = POLLIN | (c->out_off < c->out_len ? POLLOUT : 0);
			pf[k].revents = 0;
		}
		struct timespec ts, *tsp = NULL;
		if (deadline != UINT64_MAX || live_left != INT64_MAX) {
			uint64_t left = FS_MIN(deadline - now, (uint64_t)live_left);
			ts.tv_sec = (time_t)(left / 1000000000ull);
			ts.tv_nsec = (long)(left % 1000000000ull);
			tsp = &ts;
		}
		int r = ppoll(pf, (nfds_t)t->nconn, tsp, NULL);
		if (r < 0 && errno != EINTR)
			return fail(t, FS_EBACKEND, "tcp backend: poll failed: %s", strerror(errno));
		if (r > 0)
			rx_all(t, pf);
	}
}

static int tcp_inflight(fs_backend *b)
{
	struct tcp_backend *t = (struct tcp_backend *)b;
	return (int)(t->dcount + t->conn[0].count + (t->nconn > 1 ? t->conn[1].count : 0));
}

/* A thread waits on `page`, which a prefetch read queued on the bulk connection is
 * bringing in (a late hit).  memd answers a connection in order, so that read comes
 * after every prefetch queued before it; the same read is sent again on the demand
 * connection, into the same pages, and the bulk copy is voided: its bytes, when they
 * come, go to a sink and it completes nothing, so the pager sees one completion and no
 * byte lands twice.  Not when its response has begun to arrive (it is nearly here) or
 * a write of its pages is queued before it (the read must see that write). */
static int tcp_promote(fs_backend *b, uint64_t page)
{
	struct tcp_backend *t = (struct tcp_backend *)b;
	if (t->err || t->nconn < 2)
		return 0;
	struct tconn *c = BULK(t), *d = DEMAND(t);
	for (uint32_t i = 0; i < c->count; i++) {
		struct req *r = &c->ring[(c->head + i) % FSP_MAX_INFLIGHT];
		if (r->op != FSP_OP_READ || r->voided || page < r->page ||
		    page >= r->page + r->npages)
			continue;
		fs_io io = { .page = r->page, .npages = r->npages, .flags = FS_IO_DEMAND,
			     .buf = r->buf, .tag = r->tag };
		if (i == 0 || r->got || write_overlaps(c, &io) || !has_room(t, d))
			return 0;
		unsigned char hdr[FSP_HDR_LEN];
		encode(hdr, &io, FSP_OP_READ, FSP_REQ_DEMAND);
		if (out_append(t, d, hdr, sizeof(hdr)))
			return 0;
		push(d, &io, FSP_OP_READ);
		r->buf = t->sink;
		r->voided = 1;
		out_flush(t, d);
		return 1;
	}
	return 0;
}

static void tcp_close(fs_backend *b)
{
	struct tcp_backend *t = (struct tcp_backend *)b;
	for (int k = 0; k < 2; k++) {
		if (t->conn[k].fd >= 0)
			close(t->conn[k].fd);
		free(t->conn[k].ring);
		free(t->conn[k].out);
	}
	free(t->done);
	free(t->sink);
	free(t);
}

static const fs_backend_ops tcp_ops = {
	.name = "tcp",
	.submit_read = tcp_submit_read,
	.submit_write = tcp_submit_write,
	.poll = tcp_poll,
	.discard = tcp_discard,
	.inflight = tcp_inflight,
	.promote = tcp_promote,
	.close = tcp_close,
};

/* ---- connecting and the handshake -------------------------------------------- */

/* Blocking exact-length I/O with a deadline, for the handshake only. */
static int io_exact(int fd, void *p, size_t n, int sending, uint64_t deadline)
{
	size_t done = 0;
	while (done < n) {
		ssize_t r = sending ? send(fd, (char *)p + done, n - done, MSG_NOSIGNAL | MSG_DONTWAIT)
				    : recv(fd, (char *)p + done, n - done, MSG_DONTWAIT);
		if (r > 0) {
			done += (size_t)r;
			continue;
		}
		if (r == 0)
			return -ECONNRESET;
		if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
			return -errno;
		uint64_t now = fs_now_ns();
		if (now >= deadline)
			return -ETIMEDOUT;
		struct pollfd pf = { .fd = fd, .events = sending ? POLLOUT : POLLIN };
		poll(&pf, 1, (int)((deadline - now) / 1000000 + 1));
	}
	return 0;
}

static int connect_one(const struct addrinfo *ai, uint64_t deadline, int *fdout)
{
	int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0 && errno != EINPROGRESS) {
		int e = errno;
		close(fd);
		return -e;
	}
	struct pollfd pf = { .fd = fd, .events = POLLOUT };
	uint64_t now = fs_now_ns();
	int r = now < deadline ? poll(&pf, 1, (int)((deadline - now) / 1000000 + 1)) : 0;
	int soerr = 0;
	socklen_t sl = sizeof(soerr);
	if (r <= 0) {
		close(fd);
		return -ETIMEDOUT;
	}
	getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
	if (soerr) {
		close(fd);
		return -soerr;
	}
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	*fdout = fd;
	return 0;
}

/* Connect and authenticate one connection.  session: in for JOIN, out for a new one. */
static int handshake(struct tcp_backend *t, const struct addrinfo *ai, const unsigned char *secret,
		     size_t slen, uint16_t flags, unsigned char session[FSP_SESSION_LEN],
		     int *fdout, char *err, size_t errlen)
{
	uint64_t deadline = fs_now_ns() + HANDSHAKE_TIMEOUT_MS * 1000000ull;
	int fd = -1, r = connect_one(ai, deadline, &fd);
	if (r) {
		fs_errf(err, errlen, "tcp backend: cannot connect to %s: %s; is it running? "
				     "(start it with `farsight memd --listen HOST:PORT`)",
			t->where, strerror(-r));
		return FS_EBACKEND;
	}
	unsigned char hello[FSP_HELLO_LEN] = { 0 }, chal[FSP_CHALLENGE_LEN],
		      auth[FSP_AUTH_LEN] = { 0 }, wel[FSP_WELCOME_LEN];
	unsigned char cnonce[FSP_NONCE_LEN];
	if (getrandom(cnonce, sizeof(cnonce), 0) != (ssize_t)sizeof(cnonce)) {
		fs_errf(err, errlen, "tcp backend: no random numbers for the handshake");
		close(fd);
		return FS_EBACKEND;
	}
	fsp_put32(hello, FSP_MAGIC);
	fsp_put16(hello + 4, FSP_VERSION);
	fsp_put16(hello + 6, flags);
	memcpy(hello + FSP_HELLO_NONCE, cnonce, FSP_NONCE_LEN);
	memcpy(hello + FSP_HELLO_SESSION, session, FSP_SESSION_LEN);
	int rc = FS_EBACKEND;
	if ((r = io_exact(fd, hello, sizeof(hello), 1, deadline)) ||
	    (r = io_exact(fd, chal, sizeof(chal), 0, deadline)))
		goto io_fail;
	if (fsp_get32(chal) != FSP_MAGIC) {
		fs_errf(err, errlen, "tcp backend: %s is not a farsight memd (bad magic)", t->where);
		goto out;
	}
	if (fsp_get16(chal + 6) == FSP_HS_BAD_VERSION) {
		fs_errf(err, errlen, "tcp backend: %s speaks protocol version %u, this farsight "
				     "speaks %u; run the same farsight version on both ends",
			t->where, fsp_get16(chal + 4), FSP_VERSION);
		goto out;
	}
	int server_auth = !!(fsp_get32(chal + 8) & FSP_CHAL_AUTH);
	if (server_auth && !slen) {
		fs_errf(err, errlen, "tcp backend: %s requires a shared secret; pass "
				     "--secret-file FILE or set FARSIGHT_SECRET_FILE to memd's secret",
			t->where);
		rc = FS_EAUTH;
		goto out;
	}
	if (!server_auth && slen) {
		/* It could be an impostor: it cannot prove it knows the secret. */
		fs_errf(err, errlen, "tcp backend: we have a secret but %s does not check one, so "
				     "it cannot prove it is the right server; start memd with the same "
				     "--secret-file",
			t->where);
		rc = FS_EAUTH;
		goto out;
	}
	if (slen)
		fsp_client_mac(secret, slen, chal + FSP_CHAL_NONCE, cnonce, flags, session, auth);
	if ((r = io_exact(fd, auth, sizeof(auth), 1, deadline)) ||
	    (r = io_exact(fd, wel, sizeof(wel), 0, deadline)))
		goto io_fail;
	switch (fsp_get16(wel)) {
	case FSP_HS_OK:
		break;
	case FSP_HS_AUTH_FAILED:
		fs_errf(err, errlen, "tcp backend: %s refused our credentials: the secret in our "
				     "--secret-file / FARSIGHT_SECRET_FILE differs from memd's",
			t->where);
		rc = FS_EAUTH;
		goto out;
	case FSP_HS_BUSY:
		fs_errf(err, errlen, "tcp backend: %s is busy: it serves as many connections as its "
				     "--max-conns allows; try again later, or raise --max-conns",
			t->where);
		goto out;
	default:
		fs_errf(err, errlen, "tcp backend: %s refused the connection (status %u, see its log)",
			t->where, fsp_get16(wel));
		goto out;
	}
	if (slen) {
		unsigned char want[FSP_MAC_LEN];
		fsp_server_mac(secret, slen, cnonce, chal + FSP_CHAL_NONCE, wel + FSP_WEL_SESSION, want);
		if (fs_ct_memcmp(want, wel + FSP_WEL_PROOF, FSP_MAC_LEN)) {
			fs_errf(err, errlen, "tcp backend: %s could not prove it knows the secret; "
					     "refusing to give it our pages",
				t->where);
			rc = FS_EAUTH;
			goto out;
		}
	}
	if (fsp_get32(wel + 4) < FSP_MAX_PAGES) {
		fs_errf(err, errlen, "tcp backend: %s takes only %u pages per request",
			t->where, fsp_get32(wel + 4));
		goto out;
	}
	t->capacity_pages = fsp_get64(wel + 8);
	memcpy(session, wel + FSP_WEL_SESSION, FSP_SESSION_LEN);
	*fdout = fd;
	return FS_OK;
io_fail:
	fs_errf(err, errlen, "tcp backend: handshake with %s failed: %s (wrong address, or "
			     "memd refused us: see its log)",
		t->where, strerror(-r));
out:
	close(fd);
	return rc;
}

int fs_backend_tcp_open(const fs_config *cfg, const char *hostport, fs_backend **out,
			char *err, size_t errlen)
{
	char host[256], port[32];
	const char *colon;
	if (hostport[0] == '[') {
		const char *end = strchr(hostport, ']');
		colon = end && end[1] == ':' ? end + 1 : NULL;
		if (colon)
			snprintf(host, sizeof(host), "%.*s", (int)(end - hostport - 1), hostport + 1);
	} else {
		colon = strrchr(hostport, ':');
		if (colon)
			snprintf(host, sizeof(host), "%.*s", (int)(colon - hostport), hostport);
	}
	if (!colon || !colon[1] || !host[0]) {
		fs_errf(err, errlen, "backend 'tcp://%s' needs HOST:PORT, e.g. tcp://127.0.0.1:7077",
			hostport);
		return FS_EINVAL;
	}
	snprintf(port, sizeof(port), "%s", colon + 1);

	unsigned char secret[FSP_SECRET_MAX];
	size_t slen = 0;
	if (cfg->secret_file[0]) {
		int rc = fsp_secret_read(cfg->secret_file, secret, &slen, err, errlen);
		if (rc)
			return rc;
	}
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM }, *res;
	int gai = getaddrinfo(host, port, &hints, &res);
	if (gai) {
		fs_errf(err, errlen, "backend 'tcp://%s': cannot resolve %s: %s", hostport, host,
			gai_strerror(gai));
		return FS_EINVAL;
	}
	struct tcp_backend *t = calloc(1, sizeof(*t));
	if (!t) {
		freeaddrinfo(res);
		return FS_ENOMEM;
	}
	t->base.ops = &tcp_ops;
	snprintf(t->where, sizeof(t->where), "memd at %s", hostport);
	t->timeout_ms = cfg->backend_timeout_ms;
	const char *one = getenv("FARSIGHT_TCP_ONE_CONN");
	t->nconn = one && one[0] == '1' ? 1 : 2;
	t->conn[0].fd = t->conn[1].fd = -1;
	t->dcap = 2 * FSP_MAX_INFLIGHT;
	t->done = calloc(t->dcap, sizeof(*t->done));
	t->sink = malloc((size_t)FS_IO_MAX_PAGES * FS_PAGE_SIZE);
	int rc = t->done && t->sink ? FS_OK : FS_ENOMEM;
	unsigned char session[FSP_SESSION_LEN] = { 0 };
	for (int k = 0; k < t->nconn && !rc; k++) {
		struct tconn *c = &t->conn[k];
		c->name = k ? "demand" : "bulk";
		c->ring = calloc(FSP_MAX_INFLIGHT, sizeof(*c->ring));
		if (!c->ring) {
			rc = FS_ENOMEM;
			break;
		}
		uint16_t flags = k ? FSP_HELLO_DEMAND | FSP_HELLO_JOIN : 0;
		rc = handshake(t, res, secret, slen, flags, session, &c->fd,
			       err, errlen);
	}
	freeaddrinfo(res);
	memset(secret, 0, sizeof(secret));
	if (rc) {
		if (rc == FS_ENOMEM)
			fs_errf(err, errlen, "tcp backend: out of local memory");
		tcp_close(&t->base);
		return rc;
	}
	*out = &t->base;
	return FS_OK;
}
