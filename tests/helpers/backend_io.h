/*
 * backend_io.h - driving a backend directly through backend.h, for the backend tests
 * (header-only): submit requests and poll until they are done, and read one of the
 * backend's own counters.
 */
#ifndef FS_TEST_BACKEND_IO_H
#define FS_TEST_BACKEND_IO_H

#include "backend/backend.h"

#include <stdio.h>
#include <string.h>

/* The backend counter `name` (its stats op), -1 (and a line on stderr) if absent. */
static inline double stat_of(fs_backend *b, const char *name)
{
	fs_named_stat s[FS_BACKEND_STATS_MAX];
	int n = b->ops->stats(b, s, FS_BACKEND_STATS_MAX);
	for (int i = 0; i < n; i++)
		if (!strcmp(s[i].name, name))
			return s[i].value;
	fprintf(stderr, "  no stat %s\n", name);
	return -1;
}

/* Submit ios (writes or reads), then poll until nothing is in flight.  Returns 0, or
 * the first error of a submit, a poll or a completion. */
static inline int run_ios(fs_backend *b, fs_io *ios, int n, int write)
{
	int off = 0;
	fs_io_done d[256];
	while (off < n) {
		int rc = write ? b->ops->submit_write(b, ios + off, n - off)
			       : b->ops->submit_read(b, ios + off, n - off);
		if (rc < 0)
			return rc;
		off += rc;
		if (off < n) { /* the queue is full: land some completions */
			int got = b->ops->poll(b, d, 256, 1000000);
			if (got < 0)
				return got;
			for (int i = 0; i < got; i++)
				if (d[i].status)
					return d[i].status;
		}
	}
	while (b->ops->inflight(b)) {
		int got = b->ops->poll(b, d, 256, -1);
		if (got < 0)
			return got;
		for (int i = 0; i < got; i++)
			if (d[i].status)
				return d[i].status;
	}
	return 0;
}

/* One request of npages from page, into or out of buf, and wait for it. */
static inline int run_io(fs_backend *b, uint64_t page, uint32_t npages, void *buf, uint32_t flags,
			 int write)
{
	fs_io io = { .page = page, .npages = npages, .flags = flags, .buf = buf, .tag = page };
	return run_ios(b, &io, 1, write);
}

#endif
