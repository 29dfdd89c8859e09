/*
 * util.h - small helpers shared by every part of libfarsight (internal): error text,
 * the one logging function, monotonic time, and raw system calls that bypass the
 * preload shim's interposed mmap/munmap (the runtime's own memory is always local).
 */
#ifndef FS_UTIL_H
#define FS_UTIL_H

#include <sched.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

/* snprintf into an error buffer (NULL-safe). */
void fs_errf(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Write s as a JSON string literal (quotes, escapes) to f. */
void fs_json_str(FILE *f, const char *s);

/* Writing a file that farsight produces (the stats JSON, traces, models, bench
 * results) without damaging what PATH names.  A regular file (or a new name) is
 * written to a temporary file beside it and renamed over it at commit, so a reader
 * never sees half a file; through a symlink, the rename replaces the link's target,
 * not the link.  Anything else - a device (/dev/stdout, /dev/null), a FIFO, a socket -
 * is opened and written in place, never replaced: renaming over /dev/stdout as root
 * would replace it for the whole system.  A directory is refused.  FS_OUT_IN_PLACE
 * writes a regular file in place too (the trace writer: a crashed recording leaves
 * what it wrote, which the reader then reports as unfinished). */
enum {
	FS_OUT_ATOMIC = 0,
	FS_OUT_IN_PLACE = 1,
	FS_OUT_RUNTIME = 2, /* or'ed in: a file written while the program runs (the trace):
			     * its descriptor is the runtime's (common/fds.h) */
};
typedef struct fs_outfile {
	FILE *f;
	int atomic;         /* f is tmp, renamed to dest at commit */
	int kept;           /* its descriptor is recorded in common/fds.h */
	char dest[4096];    /* where the rename goes (the symlink's target, resolved) */
	char tmp[4160];
} fs_outfile;
/* 0, or FS_EIO with a sentence naming path in err (errno kept). */
int fs_out_open(fs_outfile *o, const char *path, int mode, char *err, size_t errlen);
/* Flush, close and (atomic) rename into place.  0, or FS_EIO with a sentence; on
 * failure the temporary file is removed and PATH is left as it was. */
int fs_out_commit(fs_outfile *o, char *err, size_t errlen);
/* Give up: close and remove the temporary file; PATH is left as it was. */
void fs_out_abort(fs_outfile *o);

/* Opening a file farsight reads (models, traces): a regular file only.  A device
 * (/dev/zero) or FIFO could be read forever and a directory has no contents to read,
 * so each is refused with a sentence; the size comes from fstat, so that a reader
 * checks its header first and then reads exactly what the header promises.  Returns
 * a descriptor (close-on-exec), or -1 with a sentence naming `what` and path in err
 * (*rc: FS_EIO when it cannot be opened, FS_EFORMAT when it is not a regular file). */
int fs_in_open(const char *path, const char *what, uint64_t *size, int *rc, char *err,
	       size_t errlen);
/* read(2) until n bytes or the end of the file: the bytes read, or -1 (errno). */
long fs_read_full(int fd, void *buf, size_t n);

/* The one logging function: "farsight: <message>" on stderr, written with one write(2)
 * so lines of concurrent processes do not interleave.  level 0 = error, 1 = info,
 * 2 = debug (shown when FARSIGHT_DEBUG is set). */
void fs_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static inline uint64_t fs_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static inline void fs_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#endif
}

/* mmap/munmap/madvise straight to the kernel, never through an interposed symbol: the
 * preload shim interposes these for the program, and translates calls on far-memory
 * ranges into runtime commands, which is exactly wrong for the runtime's own calls. */
void *fs_sys_mmap(void *addr, size_t len, int prot, int flags, int fd, long off);
int fs_sys_munmap(void *addr, size_t len);
int fs_sys_madvise(void *addr, size_t len, int advice);

/* Set to 1 by the runtime's own threads (the pager): the preload shim keeps every
 * allocation they make in local memory, since a runtime thread must never fault on
 * far memory it is itself responsible for serving. */
extern __thread int fs_thread_is_runtime;

#define FS_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define FS_MIN(a, b) ((a) < (b) ? (a) : (b))
#define FS_MAX(a, b) ((a) > (b) ? (a) : (b))

/* CPU lists as the cpus setting takes them ("0-1,3"): parsed (FS_EINVAL on junk, an
 * empty list or a CPU at or above CPU_SETSIZE), and written back. */
int fs_parse_cpus(const char *text, cpu_set_t *set);
void fs_cpu_list(const cpu_set_t *set, char *out, size_t cap);
/* b bytes for people: "512 B", "4.0 MiB", "64.0 GiB" (binary units, one decimal). */
void fs_human_bytes(char *out, size_t cap, uint64_t b);

#endif
