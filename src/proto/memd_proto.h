/*
 * memd_proto.h - the wire format between the tcp backend and `farsight memd`
 * (internal; shared by src/backend/tcp.c and src/memd/).  docs/PROTOCOL.md is the
 * specification; this header is its C transcription.  Every integer is little-endian
 * and every message has a fixed-size header, so both sides know how many bytes to
 * expect before reading them, and every length is bounded by a constant below.
 *
 * Handshake (once per connection):
 *   client -> HELLO      64 bytes: magic, version, flags, client nonce, session id
 *   server -> CHALLENGE  48 bytes: magic, version, status, flags, server nonce
 *   client -> AUTH       32 bytes: HMAC-SHA256(secret, "farsight-memd-v1 client" ||
 *                                  server nonce || client nonce || flags || session)
 *   server -> WELCOME    64 bytes: status, limits, capacity, session id,
 *                                  HMAC-SHA256(secret, "farsight-memd-v1 server" ||
 *                                  client nonce || server nonce || session)
 * Then requests (24-byte header, WRITE followed by npages * 4096 bytes) and responses
 * (24-byte header, an OK READ followed by npages * 4096 bytes), answered in order.
 */
#ifndef FS_TCP_PROTO_H
#define FS_TCP_PROTO_H

#include "common/sha256.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define FSP_MAGIC 0x444d5346u   /* "FSMD" as little-endian bytes */
#define FSP_VERSION 1
#define FSP_NONCE_LEN 32
#define FSP_SESSION_LEN 16
#define FSP_MAC_LEN 32

#define FSP_HELLO_LEN 64
#define FSP_CHALLENGE_LEN 48
#define FSP_AUTH_LEN 32
#define FSP_WELCOME_LEN 64
#define FSP_HDR_LEN 24

/* Limits (docs/PROTOCOL.md "Limits"). */
#define FSP_MAX_PAGES 256                  /* pages per READ or WRITE */
#define FSP_MAX_MSG (FSP_HDR_LEN + FSP_MAX_PAGES * 4096) /* largest message */
#define FSP_MAX_INFLIGHT 1024              /* unanswered requests per connection */
#define FSP_MAX_PAGE_INDEX ((1ull << 52) - 1) /* page * 4096 must fit in 64 bits */
#define FSP_MAX_DISCARD 0xffffffffu        /* pages per DISCARD (its npages field) */

/* HELLO flags */
#define FSP_HELLO_DEMAND 1u  /* this connection carries demand reads */
#define FSP_HELLO_JOIN 2u    /* join the session named in the HELLO (second connection) */
#define FSP_HELLO_FLAGS_ALL (FSP_HELLO_DEMAND | FSP_HELLO_JOIN)

/* CHALLENGE flags */
#define FSP_CHAL_AUTH 1u     /* the server has a secret: the AUTH MAC is checked */

/* CHALLENGE and WELCOME status */
enum {
	FSP_HS_OK = 0,
	FSP_HS_BAD_VERSION = 1, /* the server does not speak the client's version */
	FSP_HS_AUTH_FAILED = 2, /* wrong MAC: the client does not know the secret */
	FSP_HS_NO_SESSION = 3,  /* JOIN named a session the server does not have */
	FSP_HS_BUSY = 4,        /* too many clients */
};

/* Request ops */
enum { FSP_OP_READ = 1, FSP_OP_WRITE = 2, FSP_OP_DISCARD = 3 };
/* Request flags */
#define FSP_REQ_DEMAND 1u    /* informational: the server logs/serves it first */

/* Response status */
enum {
	FSP_ST_OK = 0,
	FSP_ST_FULL = 1,        /* WRITE refused: the server is at its capacity */
	FSP_ST_NOT_WRITTEN = 2, /* READ of a page this client never wrote */
};

/* A request or response header, decoded. */
typedef struct fsp_hdr {
	uint8_t op;
	uint8_t flags_or_status; /* request: FSP_REQ_*; response: FSP_ST_* */
	uint16_t reserved;       /* must be 0 */
	uint32_t npages;
	uint64_t page;
	uint64_t tag;
} fsp_hdr;

static inline void fsp_put16(unsigned char *p, uint16_t v) { p[0] = (unsigned char)v; p[1] = (unsigned char)(v >> 8); }
static inline void fsp_put32(unsigned char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}
static inline void fsp_put64(unsigned char *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}
static inline uint16_t fsp_get16(const unsigned char *p) { return (uint16_t)(p[0] | p[1] << 8); }
static inline uint32_t fsp_get32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline uint64_t fsp_get64(const unsigned char *p)
{
	return (uint64_t)fsp_get32(p) | (uint64_t)fsp_get32(p + 4) << 32;
}

static inline void fsp_hdr_encode(unsigned char out[FSP_HDR_LEN], const fsp_hdr *h)
{
	out[0] = h->op;
	out[1] = h->flags_or_status;
	fsp_put16(out + 2, h->reserved);
	fsp_put32(out + 4, h->npages);
	fsp_put64(out + 8, h->page);
	fsp_put64(out + 16, h->tag);
}

static inline void fsp_hdr_decode(const unsigned char in[FSP_HDR_LEN], fsp_hdr *h)
{
	h->op = in[0];
	h->flags_or_status = in[1];
	h->reserved = fsp_get16(in + 2);
	h->npages = fsp_get32(in + 4);
	h->page = fsp_get64(in + 8);
	h->tag = fsp_get64(in + 16);
}

/* Handshake layouts (offsets).  HELLO: magic@0 u32, version@4 u16, flags@6 u16,
 * client nonce@8 [32], session@40 [16], reserved@56 [8] (zero). */
#define FSP_HELLO_NONCE 8
#define FSP_HELLO_SESSION 40
/* CHALLENGE: magic@0 u32, version@4 u16, status@6 u16, flags@8 u32, reserved@12 u32,
 * server nonce@16 [32]. */
#define FSP_CHAL_NONCE 16
/* WELCOME: status@0 u16, reserved@2 u16, max pages@4 u32, capacity pages@8 u64,
 * session@16 [16], server proof@32 [32]. */
#define FSP_WEL_SESSION 16
#define FSP_WEL_PROOF 32

/* The shared secret (src/proto/secret.c): the file's bytes, trailing whitespace
 * removed, FSP_SECRET_MIN..FSP_SECRET_MAX of them.  0 or FS_E* with a sentence. */
#define FSP_SECRET_MIN 8
#define FSP_SECRET_MAX 1024
int fsp_secret_read(const char *path, unsigned char *out, size_t *len, char *err,
		    size_t errlen);

#define FSP_CLIENT_LABEL "farsight-memd-v1 client"
#define FSP_SERVER_LABEL "farsight-memd-v1 server"

/* The client's answer to the challenge: proves it knows the secret without sending it.
 * Binding both nonces defeats replay; binding flags and session stops a recorded
 * answer from being reused to join a different session. */
static inline void fsp_client_mac(const void *secret, size_t slen,
				  const unsigned char snonce[FSP_NONCE_LEN],
				  const unsigned char cnonce[FSP_NONCE_LEN], uint16_t flags,
				  const unsigned char session[FSP_SESSION_LEN],
				  unsigned char out[FSP_MAC_LEN])
{
	unsigned char f[2];
	fsp_put16(f, flags);
	const void *parts[] = { FSP_CLIENT_LABEL, snonce, cnonce, f, session };
	size_t lens[] = { sizeof(FSP_CLIENT_LABEL) - 1, FSP_NONCE_LEN, FSP_NONCE_LEN, 2,
			  FSP_SESSION_LEN };
	fs_hmac_sha256(secret, slen, parts, lens, 5, out);
}

/* The server's proof, so a client never hands its pages to an impostor. */
static inline void fsp_server_mac(const void *secret, size_t slen,
				  const unsigned char cnonce[FSP_NONCE_LEN],
				  const unsigned char snonce[FSP_NONCE_LEN],
				  const unsigned char session[FSP_SESSION_LEN],
				  unsigned char out[FSP_MAC_LEN])
{
	const void *parts[] = { FSP_SERVER_LABEL, cnonce, snonce, session };
	size_t lens[] = { sizeof(FSP_SERVER_LABEL) - 1, FSP_NONCE_LEN, FSP_NONCE_LEN,
			  FSP_SESSION_LEN };
	fs_hmac_sha256(secret, slen, parts, lens, 4, out);
}

#endif
