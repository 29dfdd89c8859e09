/*
 * server.c - the memory server's event loop: one thread, epoll, non-blocking sockets.
 *
 * One thread is enough: a request costs a hash lookup and a 4 KiB copy, far less than
 * the system calls around it, and on a 2-vCPU machine a second server thread would
 * only add cross-CPU wake-ups (~45 us each here).  Each connection has an input
 * buffer (grown to the size of the message being received, never beyond
 * FSP_MAX_MSG) and an output buffer of responses.  The loop reads at most
 * READ_BUDGET bytes per connection per wake-up so one busy client cannot starve the
 * others, and stops reading a connection whose unsent responses exceed OUT_HIGH
 * (the client is not reading: back-pressure instead of unbounded memory).
 *
 * Demand first: connections that said FSP_HELLO_DEMAND in their HELLO (the tcp
 * backend's demand-read connection) are served before the others in every batch of
 * epoll events, so a demand read never waits behind a burst of prefetches.
 *
 * Faults: any malformed, oversized or unauthenticated input closes that connection
 * with a logged reason; the other connections never notice.
 */
#include "memd/server.h"
#include "memd/memd.h"
#include "farsight.h"
#include "common/util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/signalfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#define READ_BUDGET (1u << 20)
#define OUT_HIGH (8u << 20)
/* Connections still in their handshake (not authenticated) have their own small cap:
 * when a new one arrives with MAX_HANDSHAKING waiting, the oldest is dropped, so a
 * flood of idle unauthenticated sockets can neither use up the authenticated
 * connections' slots nor keep a client that knows the secret out (its handshake
 * takes one round trip; the flood would have to open MAX_HANDSHAKING connections
 * within it).  They are also dropped after HANDSHAKE_TIMEOUT_NS, the time the tcp
 * backend itself waits for a handshake (tcp.c: HANDSHAKE_TIMEOUT_MS). */
#define MAX_HANDSHAKING 64
#define HANDSHAKE_TIMEOUT_NS (5ull * 1000000000ull)
#define HS_IN_CAP 128     /* input buffer during the handshake: HELLO + AUTH fit */
#define READY_IN_CAP 65536 /* after it; grown to the message being received */
/* A deep accept queue (the kernel caps it at net.core.somaxconn): a burst of
 * connections then waits in it instead of having its SYNs dropped (a 1 s retry). */
#define LISTEN_BACKLOG 4096
#define SPARE_FDS 16      /* descriptors memd keeps for itself (listener, epoll, files) */

enum { ST_HELLO, ST_AUTH, ST_READY };

struct conn {
	struct conn *next, *prev;
	int fd;
	int state;
	int demand;
	uint32_t evmask;         /* what epoll currently watches */
	int paused;              /* not reading: too many unsent responses */
	unsigned char *in;
	size_t in_len, in_cap;
	memd_buf out;
	memd_hello hello;
	unsigned char snonce[FSP_NONCE_LEN];
	memd_session *ss;
	uint64_t born_ns;
	uint64_t last_rx_ns;     /* last bytes received: a half-received request times out */
	char peer[64];
};

/* A connection list in arrival order (the handshake list drops its oldest first). */
struct clist {
	struct conn *head, *tail;
	int n;
};

struct server {
	const memd_options *o;
	int epfd, lfd, sigfd;
	memd_store store;
	struct clist hs;         /* connections in their handshake */
	struct clist ready;      /* authenticated connections */
	int max_conns;           /* --max-conns, lowered to what RLIMIT_NOFILE allows */
	uint64_t dropped_hs;     /* handshakes dropped since the last log line */
	uint64_t accept_paused_until; /* out of descriptors: accept() again at this time */
	int stop;
};

static void clist_add(struct clist *l, struct conn *c)
{
	c->next = NULL;
	c->prev = l->tail;
	if (l->tail)
		l->tail->next = c;
	else
		l->head = c;
	l->tail = c;
	l->n++;
}

static void clist_del(struct clist *l, struct conn *c)
{
	if (c->prev)
		c->prev->next = c->next;
	else
		l->head = c->next;
	if (c->next)
		c->next->prev = c->prev;
	else
		l->tail = c->prev;
	l->n--;
}

/* Tags for the two non-connection descriptors in epoll's data.ptr. */
static char tag_listen, tag_signal;

static void set_events(struct server *s, struct conn *c)
{
	uint32_t want = (c->paused ? 0 : EPOLLIN) | (memd_buf_pending(&c->out) ? EPOLLOUT : 0);
	if (want == c->evmask)
		return;
	struct epoll_event ev = { .events = want, .data.ptr = c };
	epoll_ctl(s->epfd, EPOLL_CTL_MOD, c->fd, &ev);
	c->evmask = want;
}

static void conn_close(struct server *s, struct conn *c, const char *why)
{
	if (why && *why)
		fs_log(1, "memd: closing connection from %s: %s", c->peer, why);
	else if (!why)
		fs_log(2, "memd: %s disconnected", c->peer);
	epoll_ctl(s->epfd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	if (c->ss) {
		uint64_t pages = memd_session_pages(c->ss);
		memd_session_put(&s->store, c->ss);
		fs_log(2, "memd: session of %s released (%llu pages)", c->peer,
		       (unsigned long long)pages);
	}
	clist_del(c->state == ST_READY ? &s->ready : &s->hs, c);
	free(c->in);
	memd_buf_free(&c->out);
	free(c);
}

/* Send what can be sent now.  Returns -1 if the connection broke (and closes it). */
static int conn_flush(struct server *s, struct conn *c)
{
	while (memd_buf_pending(&c->out)) {
		ssize_t n = send(c->fd, c->out.data + c->out.off, memd_buf_pending(&c->out),
				 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n <= 0) {
			char why[128];
			snprintf(why, sizeof(why), "send failed: %s", strerror(errno));
			conn_close(s, c, why);
			return -1;
		}
		c->out.off += (size_t)n;
	}
	if (!memd_buf_pending(&c->out))
		c->out.off = c->out.len = 0;
	set_events(s, c);
	return 0;
}

/* Resume a connection paused for back-pressure once its output drained: first the
 * requests already buffered (no new EPOLLIN will announce them), then the socket. */
static int conn_resume(struct server *s, struct conn *c);

static int put_bytes(struct conn *c, const unsigned char *p, size_t n)
{
	if (memd_buf_reserve(&c->out, n))
		return -1;
	memcpy(c->out.data + c->out.len, p, n);
	c->out.len += n;
	return 0;
}

/* A handshake refusal: send the status so the client can say why, then close. */
static void refuse(struct server *s, struct conn *c, const unsigned char *msg, size_t n,
		   const char *why)
{
	if (put_bytes(c, msg, n) == 0)
		(void)send(c->fd, c->out.data + c->out.off, memd_buf_pending(&c->out),
			   MSG_NOSIGNAL | MSG_DONTWAIT);
	conn_close(s, c, why);
}

static int handle_hello(struct server *s, struct conn *c)
{
	char why[160];
	if (memd_parse_hello(c->in, &c->hello, why, sizeof(why)) != MEMD_PARSE_OK) {
		conn_close(s, c, why);
		return -1;
	}
	unsigned char msg[FSP_CHALLENGE_LEN] = { 0 };
	fsp_put32(msg, FSP_MAGIC);
	fsp_put16(msg + 4, FSP_VERSION);
	if (c->hello.version != FSP_VERSION) {
		fsp_put16(msg + 6, FSP_HS_BAD_VERSION);
		snprintf(why, sizeof(why), "client speaks protocol version %u, we speak %u",
			 c->hello.version, FSP_VERSION);
		refuse(s, c, msg, sizeof(msg), why);
		return -1;
	}
	fsp_put32(msg + 8, s->o->secret_len ? FSP_CHAL_AUTH : 0);
	if (getrandom(c->snonce, FSP_NONCE_LEN, 0) != FSP_NONCE_LEN) {
		conn_close(s, c, "no random numbers for the challenge");
		return -1;
	}
	memcpy(msg + FSP_CHAL_NONCE, c->snonce, FSP_NONCE_LEN);
	if (put_bytes(c, msg, sizeof(msg))) {
		conn_close(s, c, "out of memory");
		return -1;
	}
	c->state = ST_AUTH;
	return FSP_HELLO_LEN;
}

static int handle_auth(struct server *s, struct conn *c)
{
	unsigned char msg[FSP_WELCOME_LEN] = { 0 };
	const memd_options *o = s->o;
	if (o->secret_len) {
		unsigned char want[FSP_MAC_LEN];
		fsp_client_mac(o->secret, o->secret_len, c->snonce, c->hello.nonce,
			       c->hello.flags, c->hello.session, want);
		if (fs_ct_memcmp(want, c->in, FSP_MAC_LEN)) {
			fsp_put16(msg, FSP_HS_AUTH_FAILED);
			refuse(s, c, msg, sizeof(msg),
			       "authentication failed (the client does not know the secret)");
			return -1;
		}
	}
	if (s->ready.n >= s->max_conns) {
		fsp_put16(msg, FSP_HS_BUSY);
		char why[96];
		snprintf(why, sizeof(why), "busy: already %d authenticated connections (--max-conns)",
			 s->ready.n);
		refuse(s, c, msg, sizeof(msg), why);
		return -1;
	}
	unsigned char *in = realloc(c->in, READY_IN_CAP);
	if (!in) {
		conn_close(s, c, "out of memory");
		return -1;
	}
	c->in = in;
	c->in_cap = READY_IN_CAP;
	memd_session *ss;
	if (c->hello.flags & FSP_HELLO_JOIN) {
		ss = memd_session_find(&s->store, c->hello.session);
		if (!ss) {
			fsp_put16(msg, FSP_HS_NO_SESSION);
			refuse(s, c, msg, sizeof(msg), "asked to join a session that does not exist");
			return -1;
		}
	} else {
		ss = memd_session_new(&s->store);
		if (!ss) {
			conn_close(s, c, "out of memory for a new session");
			return -1;
		}
	}
	memd_session_get(ss);
	c->ss = ss;
	c->demand = !!(c->hello.flags & FSP_HELLO_DEMAND);
	fsp_put16(msg, FSP_HS_OK);
	fsp_put32(msg + 4, FSP_MAX_PAGES);
	fsp_put64(msg + 8, o->capacity_pages);
	memcpy(msg + FSP_WEL_SESSION, memd_session_id(ss), FSP_SESSION_LEN);
	if (o->secret_len)
		fsp_server_mac(o->secret, o->secret_len, c->hello.nonce, c->snonce,
			       memd_session_id(ss), msg + FSP_WEL_PROOF);
	if (put_bytes(c, msg, sizeof(msg))) {
		conn_close(s, c, "out of memory");
		return -1;
	}
	clist_del(&s->hs, c);
	c->state = ST_READY;
	clist_add(&s->ready, c);
	fs_log(2, "memd: %s authenticated (%s connection, %s session)", c->peer,
	       c->demand ? "demand" : "bulk", (c->hello.flags & FSP_HELLO_JOIN) ? "joined" : "new");
	return FSP_AUTH_LEN;
}

/* Execute every whole message in the input buffer.  Returns -1 if c was closed. */
static int conn_process(struct server *s, struct conn *c)
{
	size_t off = 0;
	char why[160];
	while (!c->paused) {
		const unsigned char *p = c->in + off;
		size_t avail = c->in_len - off;
		int used;
		if (c->state == ST_HELLO) {
			if (avail < FSP_HELLO_LEN)
				break;
			memmove(c->in, p, avail); /* handshake is rare: keep it simple */
			c->in_len = avail;
			off = 0;
			if ((used = handle_hello(s, c)) < 0)
				return -1;
		} else if (c->state == ST_AUTH) {
			if (avail < FSP_AUTH_LEN)
				break;
			memmove(c->in, p, avail);
			c->in_len = avail;
			off = 0;
			if ((used = handle_auth(s, c)) < 0)
				return -1;
		} else {
			fsp_hdr req;
			size_t need;
			int r = memd_parse_request(p, avail, &req, &need, why, sizeof(why));
			if (r == MEMD_PARSE_BAD) {
				conn_close(s, c, why);
				return -1;
			}
			if (r == MEMD_PARSE_MORE) {
				if (need > c->in_cap) {
					unsigned char *n = realloc(c->in, need);
					if (!n) {
						conn_close(s, c, "out of memory for a request");
						return -1;
					}
					c->in = n;
					c->in_cap = need;
				}
				break;
			}
			if (memd_apply(&s->store, c->ss, &req, p + FSP_HDR_LEN, &c->out)) {
				conn_close(s, c, "out of memory while serving a request");
				return -1;
			}
			used = (int)need;
			if (memd_buf_pending(&c->out) > OUT_HIGH)
				c->paused = 1;
		}
		off += (size_t)used;
	}
	if (off) {
		memmove(c->in, c->in + off, c->in_len - off);
		c->in_len -= off;
	}
	return 0;
}

static void conn_readable(struct server *s, struct conn *c);

static int conn_resume(struct server *s, struct conn *c)
{
	while (c->paused && memd_buf_pending(&c->out) < OUT_HIGH / 2) {
		c->paused = 0;
		if (conn_process(s, c) < 0 || conn_flush(s, c) < 0)
			return -1;
	}
	return 0;
}

static void conn_readable(struct server *s, struct conn *c)
{
	size_t budget = READ_BUDGET;
	while (!c->paused && budget) {
		if (c->in_len == c->in_cap) {
			/* Only a partial message that conn_process already sized the buffer
			 * for can fill it; more space than FSP_MAX_MSG is never needed. */
			conn_close(s, c, "input buffer full (internal error)");
			return;
		}
		size_t room = FS_MIN(c->in_cap - c->in_len, budget);
		ssize_t n = recv(c->fd, c->in + c->in_len, room, MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n <= 0) {
			char why[128];
			if (n == 0 && c->in_len == 0)
				conn_close(s, c, NULL);
			else if (n == 0) {
				snprintf(why, sizeof(why), "disconnected in the middle of a %s",
					 c->state == ST_READY ? "request" : "handshake");
				conn_close(s, c, why);
			} else {
				snprintf(why, sizeof(why), "receive failed: %s", strerror(errno));
				conn_close(s, c, why);
			}
			return;
		}
		c->in_len += (size_t)n;
		c->last_rx_ns = fs_now_ns();
		budget -= (size_t)n;
		if (conn_process(s, c) < 0)
			return;
		if ((size_t)n < room)
			break; /* drained; level-triggered epoll reports anything newer */
	}
	if (conn_flush(s, c) == 0)
		conn_resume(s, c);
}

static int is_loopback(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return (ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr) >> 24) == 127;
	if (sa->sa_family == AF_INET6) {
		const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
		return IN6_IS_ADDR_LOOPBACK(a) || (IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127);
	}
	return 0;
}

static void addr_text(const struct sockaddr *sa, char *out, size_t n)
{
	char host[INET6_ADDRSTRLEN] = "?";
	int port = 0;
	if (sa->sa_family == AF_INET) {
		inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, host, sizeof(host));
		port = ntohs(((const struct sockaddr_in *)sa)->sin_port);
		snprintf(out, n, "%s:%d", host, port);
	} else if (sa->sa_family == AF_INET6) {
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, host, sizeof(host));
		port = ntohs(((const struct sockaddr_in6 *)sa)->sin6_port);
		snprintf(out, n, "[%s]:%d", host, port);
	} else {
		snprintf(out, n, "?");
	}
}

/* Split "HOST:PORT" / "[V6]:PORT".  Returns 0 or -1. */
static int split_hostport(const char *text, char *host, size_t hn, char *port, size_t pn)
{
	const char *colon;
	if (text[0] == '[') {
		const char *end = strchr(text, ']');
		if (!end || end[1] != ':')
			return -1;
		snprintf(host, hn, "%.*s", (int)(end - text - 1), text + 1);
		colon = end + 1;
	} else {
		colon = strrchr(text, ':');
		if (!colon)
			return -1;
		snprintf(host, hn, "%.*s", (int)(colon - text), text);
	}
	snprintf(port, pn, "%s", colon + 1);
	/* a port number 0-65535 (0: any free port); getaddrinfo would take 99999 and
	 * listen on another port */
	char *end;
	long p = strtol(port, &end, 10);
	return port[0] && !*end && p >= 0 && p <= 65535 ? 0 : -1;
}

static int open_listener(struct server *s, char *bound, size_t bn)
{
	const memd_options *o = s->o;
	char host[256], port[32];
	if (split_hostport(o->listen, host, sizeof(host), port, sizeof(port))) {
		fs_log(0, "memd: --listen '%s' is not HOST:PORT with a port from 0 to 65535 (e.g. "
			  "127.0.0.1:7077; 0 picks a free port)", o->listen);
		return 2;
	}
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_PASSIVE }, *res;
	int rc = getaddrinfo(host[0] ? host : NULL, port, &hints, &res);
	if (rc) {
		fs_log(0, "memd: cannot resolve --listen '%s': %s", o->listen, gai_strerror(rc));
		return 2;
	}
	if (!is_loopback(res->ai_addr) && !o->secret_len) {
		fs_log(0, "memd: refusing to listen on %s without a secret: anyone who can reach "
			  "it could read and overwrite far memory.  Pass --secret-file FILE (and "
			  "give clients the same file), or listen on 127.0.0.1", o->listen);
		freeaddrinfo(res);
		return 2;
	}
	s->lfd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int one = 1;
	setsockopt(s->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (s->lfd < 0 || bind(s->lfd, res->ai_addr, res->ai_addrlen) || listen(s->lfd, LISTEN_BACKLOG)) {
		fs_log(0, "memd: cannot listen on %s: %s", o->listen, strerror(errno));
		freeaddrinfo(res);
		return 1;
	}
	freeaddrinfo(res);
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	getsockname(s->lfd, (struct sockaddr *)&ss, &sl);
	addr_text((struct sockaddr *)&ss, bound, bn);
	int p = ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
					      : ((struct sockaddr_in6 *)&ss)->sin6_port);
	return -p; /* <= 0: the bound port, negated */
}

static void drop_oldest_handshake(struct server *s)
{
	s->dropped_hs++;
	fs_log(2, "memd: dropping %s: %d connections are in their handshake (oldest first)",
	       s->hs.head->peer, s->hs.n);
	conn_close(s, s->hs.head, ""); /* logged above, and in sum once a second */
}

static void accept_all(struct server *s)
{
	for (;;) {
		struct sockaddr_storage sa;
		socklen_t sl = sizeof(sa);
		int fd = accept4(s->lfd, (struct sockaddr *)&sa, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0 && (errno == EMFILE || errno == ENFILE)) {
			/* Out of descriptors: make room from the handshakes, or stop accepting
			 * for a moment (level-triggered epoll would spin on the listener). */
			if (s->hs.n) {
				drop_oldest_handshake(s);
				continue;
			}
			fs_log(1, "memd: out of file descriptors (%d connections): not accepting "
				  "for 100 ms", s->ready.n);
			struct epoll_event ev = { .events = 0, .data.ptr = &tag_listen };
			epoll_ctl(s->epfd, EPOLL_CTL_MOD, s->lfd, &ev);
			s->accept_paused_until = fs_now_ns() + 100000000ull;
			return;
		}
		if (fd < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
				fs_log(1, "memd: accept failed: %s", strerror(errno));
			return;
		}
		char peer[64];
		addr_text((struct sockaddr *)&sa, peer, sizeof(peer));
		if (s->hs.n >= MAX_HANDSHAKING)
			drop_oldest_handshake(s);
		struct conn *c = calloc(1, sizeof(*c));
		if (c)
			c->in = malloc(c->in_cap = HS_IN_CAP);
		if (!c || !c->in) {
			fs_log(1, "memd: refusing %s: out of memory", peer);
			if (c)
				free(c);
			close(fd);
			continue;
		}
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		c->fd = fd;
		c->born_ns = c->last_rx_ns = fs_now_ns();
		snprintf(c->peer, sizeof(c->peer), "%s", peer);
		c->evmask = EPOLLIN;
		struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };
		epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &ev);
		clist_add(&s->hs, c);
		fs_log(2, "memd: connection from %s", peer);
	}
}

/* Once a second: handshakes that took too long, requests received only in part. */
static void reap_slow(struct server *s)
{
	uint64_t now = fs_now_ns();
	/* The handshake list is in arrival order: stop at the first young one. */
	while (s->hs.head && now - s->hs.head->born_ns > HANDSHAKE_TIMEOUT_NS)
		conn_close(s, s->hs.head, "no complete handshake within 5 seconds");
	if (s->dropped_hs) {
		fs_log(1, "memd: dropped %llu connections that were still in their handshake "
			  "when %d newer ones were (a flood of unauthenticated connections?)",
		       (unsigned long long)s->dropped_hs, MAX_HANDSHAKING);
		s->dropped_hs = 0;
	}
	/* A connection that stopped in the middle of a request holds its buffer and its
	 * slot: time it out.  A paused connection is memd's doing, not the client's. */
	uint64_t limit = (uint64_t)s->o->request_timeout_s * 1000000000ull;
	for (struct conn *c = s->ready.head, *next; c && limit; c = next) {
		next = c->next;
		if (c->in_len && !c->paused && now - c->last_rx_ns > limit) {
			char why[160];
			snprintf(why, sizeof(why), "sent %zu bytes of a request and nothing more for "
				 "%u s (--request-timeout)", c->in_len, s->o->request_timeout_s);
			conn_close(s, c, why);
		}
	}
}

/* Room for the connections: raise the soft descriptor limit to the hard one, and
 * serve no more authenticated connections than the descriptors allow. */
static int conn_limit(const memd_options *o)
{
	int want = (int)o->max_conns;
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl))
		return want;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
		getrlimit(RLIMIT_NOFILE, &rl);
	}
	uint64_t room = rl.rlim_cur > (rlim_t)(MAX_HANDSHAKING + SPARE_FDS)
				? (uint64_t)rl.rlim_cur - MAX_HANDSHAKING - SPARE_FDS : 1;
	if (room < (uint64_t)want) {
		fs_log(1, "memd: only %llu file descriptors (ulimit -n): serving at most %llu "
			  "connections instead of --max-conns %d",
		       (unsigned long long)rl.rlim_cur, (unsigned long long)room, want);
		want = (int)room;
	}
	return want;
}

static int write_file(const char *path, long value)
{
	FILE *f = fopen(path, "w");
	if (!f)
		return -1;
	fprintf(f, "%ld\n", value);
	return fclose(f);
}

int memd_serve(const memd_options *o)
{
	struct server s = { .o = o, .epfd = -1, .lfd = -1, .sigfd = -1, .max_conns = conn_limit(o) };
	char bound[80];
	int rc = open_listener(&s, bound, sizeof(bound));
	if (rc > 0)
		return rc;
	int port = -rc;
	rc = 0;
	memd_store_init(&s.store, o->capacity_pages);

	sigset_t mask;
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	s.sigfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	s.epfd = epoll_create1(EPOLL_CLOEXEC);
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &tag_listen };
	epoll_ctl(s.epfd, EPOLL_CTL_ADD, s.lfd, &ev);
	ev.data.ptr = &tag_signal;
	epoll_ctl(s.epfd, EPOLL_CTL_ADD, s.sigfd, &ev);

	if (o->pidfile && write_file(o->pidfile, (long)getpid())) {
		fs_log(0, "memd: cannot write --pidfile %s: %s", o->pidfile, strerror(errno));
		rc = 1;
		goto out;
	}
	if (o->portfile && write_file(o->portfile, port)) {
		fs_log(0, "memd: cannot write --port-file %s: %s", o->portfile, strerror(errno));
		rc = 1;
		goto out;
	}
	char cap[32] = "unlimited";
	if (o->capacity_pages)
		snprintf(cap, sizeof(cap), "%llu MiB", (unsigned long long)(o->capacity_pages / 256));
	fs_log(1, "memd: listening on %s (capacity %s, %s)", bound, cap,
	       o->secret_len ? "secret required" : "no secret: loopback only");

	uint64_t last_reap = fs_now_ns();
	struct epoll_event evs[64];
	while (!s.stop) {
		int n = epoll_wait(s.epfd, evs, 64, s.accept_paused_until ? 100 : 1000);
		if (n < 0 && errno != EINTR) {
			fs_log(0, "memd: epoll_wait failed: %s", strerror(errno));
			rc = 1;
			break;
		}
		/* Two passes: demand connections first (see the top of this file). */
		for (int pass = 0; pass < 2; pass++) {
			for (int i = 0; i < n; i++) {
				void *p = evs[i].data.ptr;
				if (!p)
					continue;
				if (p == &tag_listen || p == &tag_signal) {
					if (pass == 1 && p == &tag_listen)
						accept_all(&s);
					if (pass == 1 && p == &tag_signal) {
						struct signalfd_siginfo si;
						if (read(s.sigfd, &si, sizeof(si)) == sizeof(si)) {
							fs_log(1, "memd: shutting down on %s (%d connections, "
								  "%llu pages held)",
							       strsignal((int)si.ssi_signo), s.ready.n,
							       (unsigned long long)s.store.used_pages);
							s.stop = 1;
						}
					}
					continue;
				}
				struct conn *c = p;
				if (c->demand != (pass == 0))
					continue;
				/* c may be closed below: mark the event handled first. */
				evs[i].data.ptr = NULL;
				uint32_t e = evs[i].events;
				if (e & EPOLLOUT && (conn_flush(&s, c) < 0 || conn_resume(&s, c) < 0))
					continue;
				if (e & (EPOLLIN | EPOLLERR | EPOLLHUP))
					conn_readable(&s, c);
			}
		}
		if (fs_now_ns() - last_reap > 1000000000ull) {
			reap_slow(&s);
			last_reap = fs_now_ns();
		}
		if (s.accept_paused_until && fs_now_ns() >= s.accept_paused_until) {
			struct epoll_event lev = { .events = EPOLLIN, .data.ptr = &tag_listen };
			epoll_ctl(s.epfd, EPOLL_CTL_MOD, s.lfd, &lev);
			s.accept_paused_until = 0;
		}
	}
out:
	while (s.hs.head)
		conn_close(&s, s.hs.head, NULL);
	while (s.ready.head)
		conn_close(&s, s.ready.head, NULL);
	memd_store_destroy(&s.store);
	if (o->pidfile)
		unlink(o->pidfile);
	if (o->portfile)
		unlink(o->portfile);
	close(s.epfd);
	close(s.sigfd);
	close(s.lfd);
	return rc;
}
