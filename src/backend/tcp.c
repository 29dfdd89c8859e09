/* tcp.c - the tcp backend: not built yet (its issue is open). */
#include "backend.h"
#include "util.h"
int fs_backend_tcp_open(const fs_config *cfg, const char *hostport, fs_backend **out,
			char *err, size_t errlen)
{
	fs_errf(err, errlen, "the tcp backend is not built yet");
	return FS_ENOSYS;
}
