/*
 * backend.c - picks the backend named by the `backend` setting.
 */
#include "backend/backend.h"
#include "common/util.h"

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
