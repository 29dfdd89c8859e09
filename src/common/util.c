/*
 * util.c - error text, logging and raw system calls (see util.h).
 */
#include "common/util.h"
#include "farsight.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
