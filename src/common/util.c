/*
 * util.c - error text, logging, output files and raw system calls (see util.h).
 */
#include "common/util.h"
#include "common/fds.h"
#include "farsight.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

__thread int fs_thread_is_runtime;

void fs_errf(char *err, size_t errlen, const char *fmt, ...)
{
	if (!err || !errlen)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

void fs_log(int level, const char *fmt, ...)
{
	static int debug = -1;
	if (debug < 0)
		debug = getenv("FARSIGHT_DEBUG") != NULL;
	if (level >= 2 && !debug)
		return;
	char line[1024];
	int n = snprintf(line, sizeof(line), "farsight: ");
	va_list ap;
	va_start(ap, fmt);
	n += vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	if (n > (int)sizeof(line) - 2)
		n = (int)sizeof(line) - 2;
	line[n++] = '\n';
	ssize_t unused = write(2, line, (size_t)n);
	(void)unused;
}

void fs_json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fprintf(f, "\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			fprintf(f, "\\u%04x", *s);
		else
			fputc(*s, f);
	}
	fputc('"', f);
}

/* ---- output files (util.h: fs_out_open) ---------------------------------------- */

static int out_fail(fs_outfile *o, const char *path, const char *why, char *err, size_t errlen)
{
	int e = errno;
	fs_errf(err, errlen, "cannot write %s: %s", path, why ? why : strerror(e));
	o->f = NULL;
	errno = e;
	return FS_EIO;
}

int fs_out_open(fs_outfile *o, const char *path, int mode, char *err, size_t errlen)
{
	static _Atomic unsigned seq;
	memset(o, 0, sizeof(*o));
	if (strlen(path) >= sizeof(o->dest)) {
		errno = ENAMETOOLONG;
		return out_fail(o, path, NULL, err, errlen);
	}
	struct stat st, lst;
	int exists = stat(path, &st) == 0; /* follows symlinks: the target decides */
	if (!exists && errno != ENOENT)
		return out_fail(o, path, NULL, err, errlen);
	if (exists && S_ISDIR(st.st_mode)) {
		errno = EISDIR;
		return out_fail(o, path, "it is a directory; give a file name", err, errlen);
	}
	int is_link = lstat(path, &lst) == 0 && S_ISLNK(lst.st_mode);
	int special = exists && !S_ISREG(st.st_mode);
	snprintf(o->dest, sizeof(o->dest), "%s", path);
	if (special || (mode & FS_OUT_IN_PLACE) || (is_link && !exists)) {
		/* In place, through any symlink (a dangling one creates its target).  A
		 * device, FIFO or socket is only opened: no O_CREAT, no O_TRUNC. */
		int fd = open(path, O_WRONLY | O_CLOEXEC | (special ? 0 : O_CREAT | O_TRUNC), 0666);
		if (fd >= 0 && (mode & FS_OUT_RUNTIME)) {
			fd = fs_fd_keep(fd, "trace file");
			o->kept = 1;
		}
		if (fd < 0 || !(o->f = fdopen(fd, "w"))) {
			if (o->kept)
				fs_fd_forget(fd);
			if (fd >= 0)
				close(fd);
			return out_fail(o, path, NULL, err, errlen);
		}
		return FS_OK;
	}
	/* A regular file or a new name: a temporary file beside the real target (a
	 * symlink's, resolved), renamed over it at commit. */
	if (is_link && !realpath(path, o->dest))
		return out_fail(o, path, NULL, err, errlen);
	const char *slash = strrchr(o->dest, '/');
	int dirlen = slash ? (int)(slash - o->dest + 1) : 0;
	int n = snprintf(o->tmp, sizeof(o->tmp), "%.*s.%s.tmp.%d.%u", dirlen, o->dest,
			 o->dest + dirlen, (int)getpid(), atomic_fetch_add(&seq, 1));
	if (n >= (int)sizeof(o->tmp)) {
		errno = ENAMETOOLONG;
		return out_fail(o, path, NULL, err, errlen);
	}
	int fd = open(o->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
	if (fd < 0)
		return out_fail(o, path, NULL, err, errlen);
	if (mode & FS_OUT_RUNTIME) {
		fd = fs_fd_keep(fd, "output file");
		o->kept = 1;
	}
	if (exists && fchmod(fd, st.st_mode & 07777)) { /* keep the file's permissions */
		int e = errno;
		fs_fd_close(fd);
		unlink(o->tmp);
		errno = e;
		return out_fail(o, path, NULL, err, errlen);
	}
	if (!(o->f = fdopen(fd, "w"))) {
		int e = errno;
		fs_fd_close(fd);
		unlink(o->tmp);
		errno = e;
		return out_fail(o, path, NULL, err, errlen);
	}
	o->atomic = 1;
	return FS_OK;
}

int fs_out_commit(fs_outfile *o, char *err, size_t errlen)
{
	if (!o->f)
		return FS_EIO;
	int bad = ferror(o->f);
	int e = bad ? EIO : 0;
	if (fflush(o->f) && !bad) {
		bad = 1;
		e = errno;
	}
	if (o->kept) /* fclose closes it without asking the shim */
		fs_fd_forget(fileno(o->f));
	if (fclose(o->f) && !bad) {
		bad = 1;
		e = errno;
	}
	o->f = NULL;
	if (!bad && o->atomic && rename(o->tmp, o->dest)) {
		bad = 1;
		e = errno;
	}
	if (bad) {
		if (o->atomic)
			unlink(o->tmp);
		fs_errf(err, errlen, "cannot write %s: %s", o->dest, strerror(e));
		errno = e;
		return FS_EIO;
	}
	return FS_OK;
}

void fs_out_abort(fs_outfile *o)
{
	if (!o->f)
		return;
	if (o->kept)
		fs_fd_forget(fileno(o->f));
	fclose(o->f);
	o->f = NULL;
	if (o->atomic)
		unlink(o->tmp);
}

/* ---- input files (util.h: fs_in_open) ------------------------------------------ */

int fs_in_open(const char *path, const char *what, uint64_t *size, int *rc, char *err,
	       size_t errlen)
{
	*rc = FS_EIO;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st)) {
		fs_errf(err, errlen, "cannot open %s %s: %s", what, path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		*rc = FS_EFORMAT;
		fs_errf(err, errlen, "%s is %s, not a %s file", path,
			S_ISDIR(st.st_mode) ? "a directory" : "not a regular file (a device, FIFO or socket)",
			what);
		close(fd);
		return -1;
	}
	*size = (uint64_t)st.st_size;
	return fd;
}

long fs_read_full(int fd, void *buf, size_t n)
{
	size_t got = 0;
	while (got < n) {
		ssize_t r = read(fd, (char *)buf + got, n - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r == 0)
			break;
		got += (size_t)r;
	}
	return (long)got;
}

const char *fs_strerror(int err)
{
	switch (err) {
	case FS_OK: return "success";
	case FS_EINVAL: return "invalid argument or setting";
	case FS_ENOMEM: return "out of local memory";
	case FS_ENOSYS: return "the kernel lacks a needed feature";
	case FS_EBACKEND: return "far-memory backend failure";
	case FS_EFULL: return "far memory is full";
	case FS_EFORMAT: return "file is damaged or of the wrong format";
	case FS_EIO: return "local file I/O error";
	case FS_EAUTH: return "memory server refused authentication";
	case FS_ERANGE: return "address or size out of range";
	case FS_EAGAIN: return "busy (a fork is under way), try again";
	default: return "unknown error";
	}
}

void *fs_sys_mmap(void *addr, size_t len, int prot, int flags, int fd, long off)
{
	return (void *)syscall(SYS_mmap, addr, len, prot, flags, fd, off);
}

int fs_sys_munmap(void *addr, size_t len)
{
	return (int)syscall(SYS_munmap, addr, len);
}

int fs_sys_madvise(void *addr, size_t len, int advice)
{
	return (int)syscall(SYS_madvise, addr, len, advice);
}

/* ---- CPU lists ---------------------------------------------------------------- */

int fs_parse_cpus(const char *p, cpu_set_t *set)
{
	CPU_ZERO(set);
	if (!*p)
		return FS_EINVAL;
	while (*p) {
		char *end;
		long a = strtol(p, &end, 10), b = a;
		if (end == p || a < 0 || a >= CPU_SETSIZE)
			return FS_EINVAL;
		if (*end == '-') {
			p = end + 1;
			b = strtol(p, &end, 10);
			if (end == p || b < a || b >= CPU_SETSIZE)
				return FS_EINVAL;
		}
		for (long c = a; c <= b; c++)
			CPU_SET((int)c, set);
		p = end;
		if (*p == ',')
			p++;
		else if (*p)
			return FS_EINVAL;
	}
	return FS_OK;
}

/* "0-1,3": the CPUs of a set, as the cpus setting takes them. */
void fs_cpu_list(const cpu_set_t *set, char *out, size_t cap)
{
	size_t k = 0;
	out[0] = 0;
	for (int c = 0; c < CPU_SETSIZE; c++) {
		if (!CPU_ISSET(c, set))
			continue;
		int e = c;
		while (e + 1 < CPU_SETSIZE && CPU_ISSET(e + 1, set))
			e++;
		int n = e > c ? snprintf(out + k, cap - k, "%s%d-%d", k ? "," : "", c, e)
			      : snprintf(out + k, cap - k, "%s%d", k ? "," : "", c);
		if (n < 0 || (size_t)n >= cap - k)
			break;
		k += (size_t)n;
		c = e;
	}
}

void fs_human_bytes(char *out, size_t cap, uint64_t b)
{
	const char *unit[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	double v = (double)b;
	int u = 0;
	while (v >= 1024 && u < 4) {
		v /= 1024;
		u++;
	}
	snprintf(out, cap, u ? "%.1f %s" : "%.0f %s", v, unit[u]);
}
