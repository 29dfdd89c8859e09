/*
 * secret.c - reads the shared secret of the tcp backend and memd from a file.
 *
 * The secret is the file's bytes with trailing whitespace (a newline from `echo` or
 * an editor) removed, so `head -c 32 /dev/urandom | base64 > secret` works.  It is
 * never sent: both sides only use it as the HMAC key of the handshake.
 */
#include "proto/memd_proto.h"
#include "farsight.h"
#include "common/util.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int fsp_secret_read(const char *path, unsigned char *out, size_t *len, char *err,
		    size_t errlen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		fs_errf(err, errlen, "cannot open secret file %s: %s", path, strerror(errno));
		return FS_EIO;
	}
	size_t n = 0;
	for (;;) {
		ssize_t r = read(fd, out + n, FSP_SECRET_MAX - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			fs_errf(err, errlen, "cannot read secret file %s: %s", path,
				strerror(errno));
			close(fd);
			return FS_EIO;
		}
		if (r == 0)
			break;
		n += (size_t)r;
		if (n == FSP_SECRET_MAX) {
			char extra;
			if (read(fd, &extra, 1) > 0) {
				fs_errf(err, errlen,
					"secret file %s is longer than %d bytes; use a shorter secret",
					path, FSP_SECRET_MAX);
				close(fd);
				return FS_EINVAL;
			}
			break;
		}
	}
	close(fd);
	while (n && (out[n - 1] == '\n' || out[n - 1] == '\r' || out[n - 1] == ' ' ||
		     out[n - 1] == '\t'))
		n--;
	if (n < FSP_SECRET_MIN) {
		fs_errf(err, errlen,
			"secret file %s holds %zu bytes; a secret needs at least %d: make a "
			"new file (e.g. head -c 32 /dev/urandom | base64 > NEWFILE) and give both "
			"sides that one",
			path, n, FSP_SECRET_MIN);
		return FS_EINVAL;
	}
	*len = n;
	return FS_OK;
}
