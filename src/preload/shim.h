/*
 * shim.h - state shared by the parts of libfarsight-preload.so (internal).
 *
 *   preload.c  constructor (settings, runtime start), the exit summary, fork handling
 *   malloc.c   the malloc family, served by jemalloc; far arenas with extent hooks
 *   mmap.c     private anonymous mmap/munmap/madvise/mremap served from far memory
 *   dl.c       dlopen/dlmopen/dlclose: the dynamic loader's memory stays local
 *   threads.c  pthread_create: a second thread gives a cpus=auto program its CPUs back
 *   fds.c      close/dup2/closefrom/... kept off the runtime's descriptors
 *
 * The one rule every interposed function follows: an allocation goes to far memory
 * only when shim_far_ok() says so, that is when the runtime is running, the calling
 * thread is not one of the runtime's own threads (fs_thread_is_runtime: the pager must
 * never fault on far memory, it would wait on itself), the shim is not already inside
 * jemalloc or the runtime on this thread (fs_shim_busy: jemalloc's own mmap calls and
 * the runtime's own malloc calls come back through the interposed symbols), and the
 * process is not a forked child (whose far memory has no pager).
 */
#ifndef FS_SHIM_H
#define FS_SHIM_H

#include "farsight.h"
#include "common/util.h"

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define FS_SHIM_TLS __attribute__((tls_model("initial-exec")))

/* Declared in util.h; redeclared with the initial-exec model so that reading it from
 * inside malloc never goes through __tls_get_addr (which may itself allocate). */
extern __thread int fs_thread_is_runtime FS_SHIM_TLS;

struct fs_shim {
	fs_runtime *rt;            /* NULL until the constructor started it */
	uintptr_t base;            /* arena range, for range checks without a call */
	size_t size;
	size_t local_threshold;    /* requests smaller than this stay local */
	_Atomic int far_ready;     /* far arenas exist: far allocation may start */
	volatile int forked_child; /* fork() without exec: everything local from now on */
	pid_t pid;                 /* the process the runtime was started in */
	int quiet;                 /* the quiet setting: no notices on stderr */
};
extern struct fs_shim fs_shim;

/* Nesting depth of shim code on this thread (see the rule above). */
extern __thread int fs_shim_busy FS_SHIM_TLS;

static inline int shim_in_arena(const void *p)
{
	return (uintptr_t)p - fs_shim.base < fs_shim.size;
}

static inline int shim_far_ok(void)
{
	return atomic_load_explicit(&fs_shim.far_ready, memory_order_acquire) &&
	       !fs_shim_busy && !fs_thread_is_runtime && !fs_shim.forked_child;
}

/* malloc.c: create the far jemalloc arenas once the runtime runs.  0 or -1 with a
 * sentence in err. */
int shim_malloc_init(char *err, size_t errlen);

/* mmap.c: lock/unlock the table of far mappings around fork. */
void shim_mmap_atfork_prepare(void);
void shim_mmap_atfork_parent(void);
void shim_mmap_atfork_child(void);

/* fds.c: resolve libc's close, dup2, dup3 and fcntl (from the constructor). */
void shim_fds_init(void);

/* directio.c: O_DIRECT taken out of open flags (and fcntl F_SETFL's). */
int shim_strip_direct(int flags, const char *what);

/* preload.c: "farsight: ..." straight to stderr with write(2), no allocation. */
void shim_say(const char *a, const char *b, const char *c);
/* Far memory had no room for a request of `bytes`: the caller serves it from local
 * memory instead (a program is better off with memory outside the budget than with
 * NULL from malloc), and this says so once per process and counts the bytes for the
 * summary's explanation (FS_LOCAL_FULL). */
void shim_far_full(size_t bytes);
/* Make a range the arena just handed out read-write: ranges the program unmapped were
 * left PROT_NONE, so that a touch of them is SIGSEGV (mmap.c). */
void shim_far_rw(void *p, size_t len);

#endif
