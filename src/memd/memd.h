/*
 * memd.h - the memory server's parts (internal to src/memd/):
 *
 *   parse.c   pure functions over byte buffers: validate a HELLO, find the next whole
 *             request in an input buffer.  No I/O, no allocation: what fuzz/memd_fuzz.c
 *             feeds garbage to.
 *   store.c   sessions and their page tables, the capacity count, and memd_apply(),
 *             which executes one parsed request against a session and appends the
 *             response to an output buffer (also I/O-free, also fuzzed).
 *   server.c  the epoll loop: accept, handshake, read, parse, apply, write.
 *   memd.c    `farsight memd`: flags, secret file, pidfile, signals.
 */
#ifndef FS_MEMD_H
#define FS_MEMD_H

#include "farsight.h"
#include "proto/memd_proto.h"

#include <stddef.h>
#include <stdint.h>

/* ---- parse.c ---- */
enum { MEMD_PARSE_MORE = 0, MEMD_PARSE_OK = 1, MEMD_PARSE_BAD = -1 };

/* Look at buf[0..len) for one whole request.  MEMD_PARSE_OK: *req holds its header,
 * *msglen its total size (header + payload), payload starts at buf + FSP_HDR_LEN.
 * MEMD_PARSE_MORE: *msglen is how many bytes the request needs in all (at least
 * FSP_HDR_LEN; never more than FSP_MAX_MSG), so the caller can size its buffer.
 * MEMD_PARSE_BAD: why[] says what was wrong; the connection must be closed. */
int memd_parse_request(const unsigned char *buf, size_t len, fsp_hdr *req, size_t *msglen,
		       char *why, size_t whylen);

typedef struct memd_hello {
	uint16_t version;
	uint16_t flags;
	unsigned char nonce[FSP_NONCE_LEN];
	unsigned char session[FSP_SESSION_LEN];
} memd_hello;

/* Decode a HELLO of exactly FSP_HELLO_LEN bytes.  MEMD_PARSE_BAD with a reason for a
 * wrong magic, unknown flags or nonzero reserved bytes.  A version we do not speak
 * parses OK: the server answers it with FSP_HS_BAD_VERSION so the client can say so. */
int memd_parse_hello(const unsigned char *buf, memd_hello *h, char *why, size_t whylen);

/* ---- store.c ---- */
typedef struct memd_session memd_session;

typedef struct memd_store {
	uint64_t capacity_pages; /* 0 = unlimited */
	uint64_t used_pages;
	memd_session *sessions;  /* list */
	uint64_t nsessions;
} memd_store;

/* A growable output byte buffer. */
typedef struct memd_buf {
	unsigned char *data;
	size_t off, len, cap; /* bytes [off, len) are pending */
} memd_buf;

int memd_buf_reserve(memd_buf *b, size_t extra); /* 0 or FS_ENOMEM */
void memd_buf_free(memd_buf *b);
static inline size_t memd_buf_pending(const memd_buf *b) { return b->len - b->off; }

void memd_store_init(memd_store *s, uint64_t capacity_pages);
void memd_store_destroy(memd_store *s);

/* A new session with a fresh random id; NULL if out of memory. */
memd_session *memd_session_new(memd_store *s);
memd_session *memd_session_find(memd_store *s, const unsigned char id[FSP_SESSION_LEN]);
const unsigned char *memd_session_id(const memd_session *ss);
/* Reference counting by connections: the last put frees the session and its pages
 * (docs/PROTOCOL.md "Sessions": no resumption once every connection is gone). */
void memd_session_get(memd_session *ss);
void memd_session_put(memd_store *s, memd_session *ss);
uint64_t memd_session_pages(const memd_session *ss);

/* Execute one request (as returned by memd_parse_request; payload = its WRITE data)
 * and append its response to out.  Returns 0, or FS_ENOMEM when the server itself is
 * out of local memory (the caller drops the connection). */
int memd_apply(memd_store *s, memd_session *ss, const fsp_hdr *req,
	       const unsigned char *payload, memd_buf *out);

#endif
