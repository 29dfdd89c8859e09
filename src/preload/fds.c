/*
 * fds.c - the runtime's descriptors defended against the program (src/common/fds.h).
 *
 * The runtime keeps its descriptors at high numbers, but a program may still reach
 * them: closefrom(3) and close_range close everything it inherited (ssh, sudo,
 * daemons), a loop over /proc/self/fd closes what it finds, and dup2 onto a number
 * replaces whatever is there.  Each of those entry points is interposed here, and a
 * descriptor the runtime holds is treated as one the program does not have:
 *   close(ours), fcntl(ours, ...)        -> -1 EBADF, as for a number that is not open;
 *   dup2/dup3(x, ours), dup2/dup3(ours, x) -> -1 EBADF, and one message, since the
 *                                          program meant to use that number;
 *   close_range(a, b), closefrom(a)      -> the same ranges, with ours left open.
 * Only in the process whose table holds them (fs_fd_owner): a vfork()ed or forked
 * child, or a posix_spawn child, has a table of its own and may close its copies.
 * Raw system calls bypass all of this; the runtime checks identities (fs_fd_intact)
 * before it writes through a descriptor, and stops the program with a message when
 * one was taken (docs/PRELOAD.md, "Descriptors").
 */
#include "common/fds.h"
#include "preload/shim.h"

#include <dirent.h>
#include <stdatomic.h>
#include <stdio.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

/* libc's functions, resolved by shim_fds_init in the constructor.  Before it (the
 * dynamic loader and libc start-up) nothing is the runtime's yet and calls go straight
 * to the kernel; resolving lazily from inside close() could recurse through dlsym's
 * own allocation into jemalloc's start-up, which closes files. */
static int (*real_close)(int);
static int (*real_dup2)(int, int);
static int (*real_dup3)(int, int, int);
static int (*real_fcntl)(int, int, ...);

void shim_fds_init(void)
{
	real_close = (int (*)(int))dlsym(RTLD_NEXT, "close");
	real_dup2 = (int (*)(int, int))dlsym(RTLD_NEXT, "dup2");
	real_dup3 = (int (*)(int, int, int))dlsym(RTLD_NEXT, "dup3");
	real_fcntl = (int (*)(int, int, ...))dlsym(RTLD_NEXT, "fcntl64");
	if (!real_fcntl)
		real_fcntl = (int (*)(int, int, ...))dlsym(RTLD_NEXT, "fcntl");
}

static int refused(int fd, const char *call)
{
	static _Atomic int said;
	if (!atomic_exchange(&said, 1)) {
		char line[300];
		snprintf(line, sizeof(line),
			 "%s onto descriptor %d refused (EBADF): it holds farsight's %s; farsight "
			 "keeps its descriptors at high numbers, out of the program's way, and "
			 "every lower number is the program's",
			 call, fd, fs_fd_owner(fd));
		shim_say(line, NULL, NULL);
	}
	errno = EBADF;
	return -1;
}

int close(int fd)
{
	if (fs_fd_owner(fd)) {
		errno = EBADF;
		return -1;
	}
	return real_close ? real_close(fd) : (int)syscall(SYS_close, fd);
}

int dup2(int old, int new)
{
	if (fs_fd_owner(new))
		return refused(new, "dup2");
	if (fs_fd_owner(old))
		return refused(old, "dup2 from");
	return real_dup2 ? real_dup2(old, new) : (int)syscall(SYS_dup2, old, new);
}

int dup3(int old, int new, int flags)
{
	if (fs_fd_owner(new))
		return refused(new, "dup3");
	if (fs_fd_owner(old))
		return refused(old, "dup3 from");
	return real_dup3 ? real_dup3(old, new, flags) : (int)syscall(SYS_dup3, old, new, flags);
}

/* close_range over [first, last] minus the runtime's descriptors: one call per gap. */
static int close_gaps(unsigned first, unsigned last, int flags)
{
	int ours[64];
	int n = fs_fd_list(first, last, ours, 64);
	int rc = 0;
	unsigned lo = first;
	for (int i = 0; i < n; i++) {
		if ((unsigned)ours[i] > lo && syscall(SYS_close_range, lo, (unsigned)ours[i] - 1, flags))
			rc = -1;
		lo = (unsigned)ours[i] + 1;
	}
	if ((n == 0 || (unsigned)ours[n - 1] < last) && lo <= last &&
	    syscall(SYS_close_range, lo, last, flags))
		rc = -1;
	return rc;
}

int close_range(unsigned first, unsigned last, int flags)
{
	if (first > last) {
		errno = EINVAL;
		return -1;
	}
	return close_gaps(first, last, flags);
}

void closefrom(int low)
{
	if (low < 0)
		low = 0;
	if (close_gaps((unsigned)low, ~0u, 0) == 0 || errno != ENOSYS)
		return;
	/* No close_range (a seccomp filter, an old kernel): close what /proc lists. */
	DIR *d = opendir("/proc/self/fd");
	if (!d)
		return;
	int dfd = dirfd(d);
	struct dirent *e;
	while ((e = readdir(d))) {
		int fd = atoi(e->d_name);
		if (e->d_name[0] >= '0' && e->d_name[0] <= '9' && fd >= low && fd != dfd)
			close(fd);
	}
	closedir(d);
}

/* fcntl's third argument is an int or a pointer by command; a pointer-sized slot
 * carries either, as libc's own wrapper does.  fcntl and fcntl64 are the same on
 * 64-bit Linux (programs built with _FILE_OFFSET_BITS=64 call the latter). */
int fcntl(int fd, int cmd, ...)
{
	va_list ap;
	va_start(ap, cmd);
	void *arg = va_arg(ap, void *);
	va_end(ap);
	if (fs_fd_owner(fd)) {
		errno = EBADF;
		return -1;
	}
	if (cmd == F_SETFL) /* directio.c: no O_DIRECT into far memory */
		arg = (void *)(intptr_t)shim_strip_direct((int)(intptr_t)arg, "fcntl(F_SETFL)");
	return real_fcntl ? real_fcntl(fd, cmd, arg) : (int)syscall(SYS_fcntl, fd, cmd, arg);
}
int fcntl64(int fd, int cmd, ...) __attribute__((alias("fcntl")));
