/*
 * threads.c - pthread_create of a preloaded program.
 *
 * cpus=auto puts a program and its pager on one CPU, where a fault costs ~6 us instead
 * of the ~50 us of a cross-vCPU wake-up (docs/TUNING.md).  That is the right place for
 * a program with one thread, and the wrong one for a program with several: they would
 * all share that CPU.  So the first thread the program creates gives every thread
 * back the CPUs the process had (fs_runtime_threads_started), before it is created, so
 * it inherits them too; the summary says which placement the run ended with.
 * pthread_create's own allocations are kept local (see below).
 */
#include "preload/shim.h"

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>

typedef int (*create_fn)(pthread_t *, const pthread_attr_t *, void *(*)(void *), void *);

int pthread_create(pthread_t *t, const pthread_attr_t *attr, void *(*fn)(void *), void *arg)
{
	static create_fn real;
	if (!real) {
		fs_shim_busy++; /* dlsym may allocate (its error state): keep that local */
		real = (create_fn)dlsym(RTLD_NEXT, "pthread_create");
		fs_shim_busy--;
	}
	if (!real)
		return EAGAIN;
	/* The runtime's own threads (the pager) are not the program's. */
	if (fs_shim.rt && !fs_thread_is_runtime && !fs_shim_busy)
		fs_runtime_threads_started(fs_shim.rt);
	/* What the C library allocates for a thread (its dynamic TLS vector) stays local:
	 * a forked child's pthread_create reuses the stacks of the parent's threads and
	 * reads their vectors before its own pager runs. */
	fs_shim_busy++;
	int rc = real(t, attr, fn, arg);
	fs_shim_busy--;
	return rc;
}
