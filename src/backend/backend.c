/*
 * backend.c - picks the backend named by the `backend` setting; the liveness message
 * shared by the remote backends.
 */
#include "backend/backend.h"
#include "common/util.h"

#include <stdio.h>
#include <string.h>

int fs_backend_open(const fs_config *cfg, fs_backend **out, char *err, size_t errlen)
{
	if (!strcmp(cfg->backend, "mem"))
		return fs_backend_mem_open(cfg, out, err, errlen);
	if (!strncmp(cfg->backend, "tcp://", 6))
		return fs_backend_tcp_open(cfg, cfg->backend + 6, out, err, errlen);
	fs_errf(err, errlen, "unknown backend '%s'; use mem or tcp://HOST:PORT", cfg->backend);
	return FS_EINVAL;
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
