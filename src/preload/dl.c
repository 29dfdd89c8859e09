/*
 * dl.c - dlopen and friends, and setlocale and friends, of a preloaded program: the
 * dynamic loader's and the C library's long-lived structures stay in local memory.
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
 *
 * Locales are the same kind of memory: setlocale loads the locale's tables with
 * malloc, and every thread the C library starts reads them (__ctype_init in
 * start_thread) before it runs a line of its own, the pager thread of a forked child
 * included, which would then wait on itself (bash's subshells hung so); the pager's
 * own messages read them too (strerror, number formatting).
 */
#include "preload/shim.h"

#include <dlfcn.h>
#include <locale.h>

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

typedef char *(*setlocale_fn)(int, const char *);
typedef locale_t (*newlocale_fn)(int, const char *, locale_t);
typedef locale_t (*duplocale_fn)(locale_t);

char *setlocale(int category, const char *name)
{
	static setlocale_fn real;
	if (!real)
		real = (setlocale_fn)next("setlocale");
	fs_shim_busy++;
	char *r = real ? real(category, name) : NULL;
	fs_shim_busy--;
	return r;
}

locale_t newlocale(int mask, const char *name, locale_t base)
{
	static newlocale_fn real;
	if (!real)
		real = (newlocale_fn)next("newlocale");
	fs_shim_busy++;
	locale_t r = real ? real(mask, name, base) : (locale_t)0;
	fs_shim_busy--;
	return r;
}

locale_t duplocale(locale_t l)
{
	static duplocale_fn real;
	if (!real)
		real = (duplocale_fn)next("duplocale");
	fs_shim_busy++;
	locale_t r = real ? real(l) : (locale_t)0;
	fs_shim_busy--;
	return r;
}
