/*
 * server.h - the memory server's event loop (src/memd/server.c), started by memd.c.
 */
#ifndef FS_MEMD_SERVER_H
#define FS_MEMD_SERVER_H

#include "proto/memd_proto.h"

#include <stddef.h>
#include <stdint.h>

typedef struct memd_options {
	const char *listen;        /* "HOST:PORT" ("[::1]:PORT" for IPv6) */
	uint64_t capacity_pages;   /* 0 = unlimited */
	unsigned char secret[FSP_SECRET_MAX];
	size_t secret_len;         /* 0 = no secret (loopback only) */
	const char *pidfile;       /* or NULL */
	const char *portfile;      /* or NULL: the bound port, for --listen ...:0 */
	uint32_t max_conns;        /* authenticated connections served at once */
	uint32_t request_timeout_s; /* a request received only in part for this long: closed */
} memd_options;

/* Run until SIGTERM/SIGINT.  Returns the process exit status: 0 after a clean
 * shutdown, 1 when serving failed, 2 for an unusable --listen address. */
int memd_serve(const memd_options *o);

#endif
