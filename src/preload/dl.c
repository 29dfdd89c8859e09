/*
 * dl.c - dlopen and friends of a preloaded program: the dynamic loader's own memory
 * stays local.
 *
 * The loader allocates a link_map, scope arrays and error strings with malloc for
 * every library a program dlopens (the JVM loads libjvm.so that way, Python its
 * extension modules).  Served from far memory, those structures would be read by the
 * pager thread itself whenever it binds a symbol lazily or looks one up: the loader
 * walks every link_map, and the pager would fault on far memory and wait on itself
 * (a JVM under farsight hung exactly so).  So these calls run with the shim's nesting
 * counter raised, which sends their allocations (and those of the libraries'
 * constructors) to local memory; the preload library is also linked with -z now, so
 * the pager does not bind its own symbols lazily.
 */
#include "preload/shim.h"

#include <dlfcn.h>

typedef void *(*open_fn)(const char *, int);
typedef void *(*mopen_fn)(Lmid_t, const char *, int);
typedef int (*close_fn)(void *);

/* The next definition of name (libc's); found once, with allocations kept local. */
static void *next(const char *name)
{
	fs_shim_busy++;
	void *f = dlsym(RTLD_NEXT, name);
	fs_shim_busy--;
	return f;
}

void *dlopen(const char *file, int mode)
{
	static open_fn real_dlopen;
	if (!real_dlopen)
		real_dlopen = (open_fn)next("dlopen");
	fs_shim_busy++;
	void *h = real_dlopen ? real_dlopen(file, mode) : NULL;
	fs_shim_busy--;
	return h;
}

void *dlmopen(Lmid_t ns, const char *file, int mode)
{
	static mopen_fn real_dlmopen;
	if (!real_dlmopen)
		real_dlmopen = (mopen_fn)next("dlmopen");
	fs_shim_busy++;
	void *h = real_dlmopen ? real_dlmopen(ns, file, mode) : NULL;
	fs_shim_busy--;
	return h;
}

int dlclose(void *h)
{
	static close_fn real_dlclose;
	if (!real_dlclose)
		real_dlclose = (close_fn)next("dlclose");
	fs_shim_busy++;
	int rc = real_dlclose ? real_dlclose(h) : -1;
	fs_shim_busy--;
	return rc;
}
