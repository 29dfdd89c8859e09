/*
 * fds.h - the runtime's own file descriptors, kept out of the program's way (internal).
 *
 * The runtime lives inside an unmodified program, whose descriptor table it shares.
 * Its userfaultfd, eventfd, backend sockets, trace file and the shim's copy of stderr
 * would otherwise sit at the lowest free numbers (3, 4, 5, ...), exactly where a
 * program redirects (`exec 3>file` in a shell) or closes what it inherited
 * (closefrom(3): ssh, sudo, daemons).  Losing the userfaultfd silently turns far
 * memory into zeros; a redirected number makes the runtime write into the program's
 * own file.  So every such descriptor is moved to a high number (FS_FD_FLOOR and up,
 * within RLIMIT_NOFILE) with close-on-exec, and recorded here with its identity
 * (st_dev, st_ino).  The preload shim (src/preload/fds.c) refuses the program's close,
 * dup2, dup3, close_range, closefrom and fcntl on recorded numbers; the runtime checks
 * a descriptor's identity (fs_fd_intact) before it writes through it, which catches
 * what the shim cannot see (a raw system call).
 */
#ifndef FS_FDS_H
#define FS_FDS_H

#include <stddef.h>

#define FS_FD_FLOOR 1000 /* or lower when RLIMIT_NOFILE is lower: see fds.c */

/* Move fd to a high number with close-on-exec and record it as the runtime's
 * (`what` names it in messages: a string constant).  Returns the descriptor to use
 * from now on: the new one (fd itself is closed), or fd when it cannot be moved (it
 * is recorded at its number then).  fd < 0 is returned as it is. */
int fs_fd_keep(int fd, const char *what);
/* Forget a recorded descriptor (before closing it, or before fclose of a FILE built
 * on it); fs_fd_close forgets and closes. */
void fs_fd_forget(int fd);
int fs_fd_close(int fd);
/* What the runtime holds at fd in this process, or NULL: the preload shim asks on
 * every close and dup2.  Lock-free and allocation-free.  A forked or vfork()ed child
 * has a table of its own: NULL there (its copies are its to close). */
const char *fs_fd_owner(int fd);
/* Is fd still the file that was recorded?  1 yes; 0 with a sentence in err naming
 * the descriptor and what it held (it was closed or replaced behind the shim's back,
 * by a raw system call). */
int fs_fd_intact(int fd, char *err, size_t errlen);
/* The recorded descriptors in [lo, hi], ascending, at most max; their count. */
int fs_fd_list(unsigned lo, unsigned hi, int *out, int max);

#endif
