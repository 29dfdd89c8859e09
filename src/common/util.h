/*
 * util.h - small helpers shared by every part of libfarsight (internal): error text,
 * the one logging function, monotonic time, and raw system calls that bypass the
 * preload shim's interposed mmap/munmap (the runtime's own memory is always local).
 */
#ifndef FS_UTIL_H
#define FS_UTIL_H

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

#endif
