/*
 * backend.c - picks the backend named by the `backend` setting; the liveness message
 * shared by the remote backends.
 *
 * One table of the backends' names, read by fs_backend_open and by the CLI's check of
 * --backend (fs_backend_check, through the settings table), so the list of names lives in one place.
 */
#include "backend/backend.h"
#include "common/util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BACKEND_NAMES \
	"mem, zmem[?compressor=lz4|zstd], tcp://HOST:PORT or " \
	"redis://HOST:PORT[,HOST:PORT...][?replicas=N]"

/* The part of spec after its backend's name (options or an address), or NULL when
 * spec names no backend.  *kind receives which one. */
enum { B_MEM, B_ZMEM, B_TCP, B_REDIS };
static const char *split(const char *spec, int *kind)
{
	if (!strcmp(spec, "mem"))
		return *kind = B_MEM, spec + 3;
	if (!strcmp(spec, "zmem"))
		return *kind = B_ZMEM, spec + 4;
	if (!strncmp(spec, "zmem?", 5))
		return *kind = B_ZMEM, spec + 5;
	if (!strncmp(spec, "tcp://", 6))
		return *kind = B_TCP, spec + 6;
	if (!strncmp(spec, "redis://", 8))
		return *kind = B_REDIS, spec + 8;
	return NULL;
}

int fs_backend_check(const char *spec, char *err, size_t errlen)
{
	int kind;
	const char *rest = split(spec, &kind);
	if (!rest) {
		fs_errf(err, errlen, "unknown backend '%s'; use " BACKEND_NAMES, spec);
		return FS_EINVAL;
	}
	if (kind == B_ZMEM)
		return fs_backend_zmem_options(rest, NULL, err, errlen);
	if (kind == B_REDIS)
		return fs_backend_redis_check(rest, err, errlen);
	if (kind == B_TCP) {
		/* HOST:PORT, HOST a name, an IPv4 address or [IPv6], PORT 1-65535 (a port
		 * out of range would be taken modulo 65536 by the resolver) */
		const char *colon = rest[0] == '[' ? strstr(rest, "]:") : strrchr(rest, ':');
		if (colon && rest[0] == '[')
			colon++;
		char *end = NULL;
		errno = 0;
		long port = colon ? strtol(colon + 1, &end, 10) : -1;
		if (!colon || colon == rest || !colon[1] || errno || *end || port < 1 || port > 65535) {
			fs_errf(err, errlen, "backend '%s' is not tcp://HOST:PORT with a port from 1 to "
				"65535 (e.g. tcp://127.0.0.1:7077)", spec);
			return FS_EINVAL;
		}
	}
	return FS_OK;
}

int fs_backend_open(const fs_config *cfg, fs_backend **out, char *err, size_t errlen)
{
	int kind;
	const char *rest = split(cfg->backend, &kind);
	if (!rest) {
		fs_errf(err, errlen, "unknown backend '%s'; use " BACKEND_NAMES, cfg->backend);
		return FS_EINVAL;
	}
	int rc;
	switch (kind) {
	case B_MEM:
		rc = fs_backend_mem_open(cfg, out, err, errlen);
		break;
	case B_ZMEM:
		rc = fs_backend_zmem_open(cfg, rest, out, err, errlen);
		break;
	case B_REDIS:
		rc = fs_backend_redis_open(cfg, rest, out, err, errlen);
		break;
	default:
		rc = fs_backend_tcp_open(cfg, rest, out, err, errlen);
		break;
	}
	if (rc == FS_OK)
		(*out)->arena_fd = -1; /* until the runtime hands its memfd over */
	return rc;
}

void fs_live_expired_msg(fs_backend *b, const char *server, const fs_liveness *l,
			 uint64_t now, uint32_t waiting, uint32_t timeout_ms)
{
	/* Runs on the pager thread: no floating point in the format, since printing a
	 * float reads the locale, which a program's setlocale() may have put in far
	 * memory (the pager would fault on its own memory and hang). */
	uint64_t ds = (now - l->quiet_since) / 100000000ull;
	snprintf(b->errmsg, sizeof(b->errmsg),
		 "%s sent nothing for %llu.%llu s with %u requests waiting: it is stopped, hung "
		 "or cut off by the network, so the pages it holds cannot be read (if it is "
		 "only slow, raise backend_timeout_ms, now %u)",
		 server, (unsigned long long)(ds / 10), (unsigned long long)(ds % 10), waiting,
		 timeout_ms);
}

int fs_backend_fork_private(fs_backend *b, char *err, size_t errlen)
{
	(void)b;
	(void)err;
	(void)errlen;
	return FS_OK;
}
