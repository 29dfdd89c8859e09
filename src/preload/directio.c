/*
 * directio.c - no direct I/O into far memory: O_DIRECT is taken out of open flags.
 *
 * A read with O_DIRECT pins the buffer's pages and fills them later, from the device,
 * while the call (or an AIO request) is in flight.  The pager does not know about the
 * pin: under a small budget it writes such a page back and punches it out of the
 * arena before the data arrives, and the data then lands in a page nobody maps any
 * more.  `dd if=in of=out bs=8M iflag=direct` at a 1M budget wrote 6 million wrong
 * bytes of 16 MiB, with status 0.  A buffered read copies into the program's page
 * inside the call, through faults the pager serves, so no byte can be lost.
 *
 * So every open the program makes through libc (open, openat, their 64 and fortified
 * _2 forms) and fcntl(F_SETFL) (fds.c) drops O_DIRECT: the I/O goes through the page
 * cache, with the same bytes; only the cache bypass and its alignment errors are lost.
 * One notice says so, unless quiet.  Not covered: raw system calls, and io_uring's
 * registered buffers, which stay pinned for the ring's life (docs/PRELOAD.md).
 */
#include "preload/shim.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <sys/syscall.h>
#include <unistd.h>

int shim_strip_direct(int flags, const char *what)
{
	if (!(flags & O_DIRECT))
		return flags;
	static _Atomic int said;
	if (!fs_shim.quiet && !atomic_exchange(&said, 1))
		shim_say(what, " asked for O_DIRECT: farsight drops it (the kernel would fill far "
			 "memory behind the pager's back); the I/O goes through the page cache, "
			 "same bytes", NULL);
	return flags & ~O_DIRECT;
}

/* The mode argument is there only with O_CREAT or O_TMPFILE, as in libc. */
#define MODE_ARG(flags, mode)                                                   \
	do {                                                                    \
		if ((flags) & (O_CREAT | __O_TMPFILE)) {                        \
			va_list ap;                                             \
			va_start(ap, flags);                                    \
			mode = va_arg(ap, int);                                 \
			va_end(ap);                                             \
		}                                                               \
	} while (0)

/* Straight to the kernel: the same call libc makes, without resolving libc's symbol
 * (which could run before the constructor, from the dynamic loader's own opens). */
static int do_openat(int dir, const char *path, int flags, int mode)
{
	return (int)syscall(SYS_openat, dir, path, shim_strip_direct(flags, "open"), mode);
}

int open(const char *path, int flags, ...)
{
	int mode = 0;
	MODE_ARG(flags, mode);
	return do_openat(AT_FDCWD, path, flags, mode);
}
int open64(const char *path, int flags, ...) __attribute__((alias("open")));

int openat(int dir, const char *path, int flags, ...)
{
	int mode = 0;
	MODE_ARG(flags, mode);
	return do_openat(dir, path, flags, mode);
}
int openat64(int dir, const char *path, int flags, ...) __attribute__((alias("openat")));

/* _FORTIFY_SOURCE's forms, called when the flags are not known at compile time. */
int __open_2(const char *path, int flags)
{
	return do_openat(AT_FDCWD, path, flags, 0);
}
int __open64_2(const char *path, int flags) __attribute__((alias("__open_2")));
int __openat_2(int dir, const char *path, int flags)
{
	return do_openat(dir, path, flags, 0);
}
int __openat64_2(int dir, const char *path, int flags) __attribute__((alias("__openat_2")));
