/*
 * fds.c - the runtime's own file descriptors: moved high, recorded, checked (fds.h).
 *
 * The table is tiny (a runtime holds a handful of descriptors) and read far more often
 * than written: the preload shim looks every close() and dup2() of the program up in
 * it, so lookups take no lock and allocate nothing.  Writers (start-up, a backend
 * connecting, the trace writer) take a mutex; a slot's identity is written before
 * its descriptor number is published.
 */
#include "common/fds.h"
#include "common/util.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#define KEPT_MAX 64

static struct kept {
	_Atomic int fd; /* -1: a free slot */
	dev_t dev;
	ino_t ino;
	const char *what;
} kept[KEPT_MAX] = { [0 ... KEPT_MAX - 1] = { .fd = -1 } };
static _Atomic int n_kept;   /* slots in use: 0 makes every lookup a single load */
static _Atomic pid_t kept_pid; /* the process whose table holds them */
static pthread_mutex_t kept_mu = PTHREAD_MUTEX_INITIALIZER;

/* The lowest number a kept descriptor may take: FS_FD_FLOOR, or less when the
 * descriptor limit is low, leaving the program everything below. */
static int floor_fd(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) || rl.rlim_cur == RLIM_INFINITY ||
	    rl.rlim_cur >= FS_FD_FLOOR + 64)
		return FS_FD_FLOOR;
	return rl.rlim_cur > 128 ? (int)rl.rlim_cur - 64 : 3;
}

static struct kept *find(int fd)
{
	for (int i = 0; i < KEPT_MAX; i++)
		if (atomic_load_explicit(&kept[i].fd, memory_order_acquire) == fd)
			return &kept[i];
	return NULL;
}

int fs_fd_keep(int fd, const char *what)
{
	if (fd < 0)
		return fd;
	int nfd = fcntl(fd, F_DUPFD_CLOEXEC, floor_fd());
	if (nfd >= 0)
		close(fd);
	else { /* no free number up there: keep it where it is, close-on-exec */
		nfd = fd;
		fcntl(fd, F_SETFD, FD_CLOEXEC);
	}
	struct stat st;
	memset(&st, 0, sizeof(st));
	fstat(nfd, &st);
	pthread_mutex_lock(&kept_mu);
	struct kept *k = find(-1);
	if (k) {
		k->dev = st.st_dev;
		k->ino = st.st_ino;
		k->what = what;
		atomic_store(&kept_pid, getpid());
		atomic_store_explicit(&k->fd, nfd, memory_order_release);
		atomic_fetch_add(&n_kept, 1);
	} else {
		fs_log(1, "more than %d descriptors of the runtime: %s (%d) is not defended",
		       KEPT_MAX, what, nfd);
	}
	pthread_mutex_unlock(&kept_mu);
	return nfd;
}

void fs_fd_forget(int fd)
{
	if (fd < 0 || !atomic_load(&n_kept))
		return;
	pthread_mutex_lock(&kept_mu);
	struct kept *k = find(fd);
	if (k) {
		atomic_store(&k->fd, -1);
		atomic_fetch_sub(&n_kept, 1);
	}
	pthread_mutex_unlock(&kept_mu);
}

int fs_fd_close(int fd)
{
	if (fd < 0)
		return 0;
	fs_fd_forget(fd);
	return close(fd);
}

const char *fs_fd_owner(int fd)
{
	if (fd < 0 || !atomic_load_explicit(&n_kept, memory_order_acquire))
		return NULL;
	struct kept *k = find(fd);
	if (!k || atomic_load(&kept_pid) != getpid())
		return NULL;
	return k->what;
}

int fs_fd_intact(int fd, char *err, size_t errlen)
{
	struct kept *k = fd >= 0 ? find(fd) : NULL;
	if (!k)
		return 1;
	struct stat st;
	int closed = fstat(fd, &st) != 0;
	if (!closed && st.st_dev == k->dev && st.st_ino == k->ino)
		return 1;
	fs_errf(err, errlen,
		"descriptor %d, farsight's %s, was %s by the program with a raw system call that "
		"farsight cannot intercept",
		fd, k->what, closed ? "closed" : "replaced");
	return 0;
}

int fs_fd_list(unsigned lo, unsigned hi, int *out, int max)
{
	int n = 0;
	if (!atomic_load(&n_kept) || atomic_load(&kept_pid) != getpid())
		return 0;
	for (int i = 0; i < KEPT_MAX; i++) {
		int fd = atomic_load_explicit(&kept[i].fd, memory_order_acquire);
		if (fd < 0 || (unsigned)fd < lo || (unsigned)fd > hi || n == max)
			continue;
		int j = n++;
		while (j > 0 && out[j - 1] > fd) { /* insertion sort: a handful of entries */
			out[j] = out[j - 1];
			j--;
		}
		out[j] = fd;
	}
	return n;
}
