/*
 * floors.h - what the micro-benchmarks share (header-only, bench/ programs only): the
 * clock, CPU pinning, a minimal userfaultfd setup, and the two floors every
 * per-page figure is read against: a bare UFFDIO_CONTINUE of a page already in the
 * page cache, and a plain first-touch kernel fault without userfaultfd.
 */
#ifndef FS_BENCH_FLOORS_H
#define FS_BENCH_FLOORS_H

#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define PG 4096ul

static inline uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static inline void die(const char *what)
{
	perror(what);
	exit(1);
}

static inline void pin_self(int cpu)
{
	cpu_set_t s;
	CPU_ZERO(&s);
	if (cpu < 0) {
		for (int c = 0; c < CPU_SETSIZE; c++)
			CPU_SET(c, &s);
	} else {
		CPU_SET(cpu, &s);
	}
	sched_setaffinity(0, sizeof(s), &s);
}

/* ---- userfaultfd plumbing -------------------------------------------------------- */

static inline int new_uffd(uint64_t features)
{
	int fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		die("userfaultfd");
	struct uffdio_api api = { .api = UFFD_API, .features = features };
	if (ioctl(fd, UFFDIO_API, &api))
		die("UFFDIO_API");
	return fd;
}

static inline void uffd_register(int fd, void *p, size_t len, uint64_t mode)
{
	struct uffdio_register r = { .range = { (uint64_t)(uintptr_t)p, len }, .mode = mode };
	if (ioctl(fd, UFFDIO_REGISTER, &r))
		die("UFFDIO_REGISTER");
}

static inline void do_continue(int fd, void *p)
{
	struct uffdio_continue c = { .range = { (uint64_t)(uintptr_t)p, PG } };
	while (ioctl(fd, UFFDIO_CONTINUE, &c)) {
		if (errno == EEXIST)
			return;
		if (errno != EAGAIN)
			die("UFFDIO_CONTINUE");
	}
}

static inline void do_copy(int fd, void *dst, const void *src)
{
	struct uffdio_copy c = { .dst = (uint64_t)(uintptr_t)dst,
				 .src = (uint64_t)(uintptr_t)src,
				 .len = PG };
	while (ioctl(fd, UFFDIO_COPY, &c)) {
		if (errno == EEXIST)
			return;
		if (errno != EAGAIN)
			die("UFFDIO_COPY");
	}
}

/* A memfd mapped twice: `app` registered for MINOR faults, `alias` never registered. */
struct memfd_pair {
	int memfd, uffd;
	char *app, *alias;
	size_t len;
};

#define NPAGES 256

static inline void memfd_pair_open(struct memfd_pair *m)
{
	m->len = NPAGES * PG;
	m->memfd = memfd_create("fault_cost", MFD_CLOEXEC);
	if (m->memfd < 0 || ftruncate(m->memfd, (off_t)m->len))
		die("memfd");
	m->app = mmap(NULL, m->len, PROT_READ | PROT_WRITE, MAP_SHARED, m->memfd, 0);
	m->alias = mmap(NULL, m->len, PROT_READ | PROT_WRITE, MAP_SHARED, m->memfd, 0);
	if (m->app == MAP_FAILED || m->alias == MAP_FAILED)
		die("mmap");
	memset(m->alias, 1, m->len); /* all pages in the page cache */
	m->uffd = new_uffd(UFFD_FEATURE_MINOR_SHMEM);
	uffd_register(m->uffd, m->app, m->len, UFFDIO_REGISTER_MODE_MINOR);
}

static inline void memfd_pair_close(struct memfd_pair *m)
{
	munmap(m->app, m->len);
	munmap(m->alias, m->len);
	close(m->uffd);
	close(m->memfd);
}

static inline int floors_cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static inline double floors_median(uint64_t *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), floors_cmp_u64);
	return (double)v[n / 2];
}

/* Median ns of n UFFDIO_CONTINUEs of one page in the page cache (no fault). */
static inline double floor_continue_ns(int n)
{
	struct memfd_pair m;
	memfd_pair_open(&m);
	uint64_t *v = calloc((size_t)n, sizeof(*v));
	for (int i = 0; i < n; i++) {
		char *p = m.app + (size_t)(i % NPAGES) * PG;
		uint64_t t0 = now_ns();
		do_continue(m.uffd, p);
		v[i] = now_ns() - t0;
		madvise(p, PG, MADV_DONTNEED);
	}
	memfd_pair_close(&m);
	double med = floors_median(v, n);
	free(v);
	return med;
}

/* Median ns of n plain first-touch write faults on anonymous memory. */
static inline double floor_plain_fault_ns(int n)
{
	char *a = mmap(NULL, NPAGES * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	madvise(a, NPAGES * PG, MADV_NOHUGEPAGE);
	uint64_t *v = calloc((size_t)n, sizeof(*v));
	for (int i = 0; i < n; i++) {
		volatile char *p = a + (size_t)(i % NPAGES) * PG;
		uint64_t t0 = now_ns();
		p[0] = 1; /* a write: a read would map the shared zero page */
		v[i] = now_ns() - t0;
		madvise((void *)p, PG, MADV_DONTNEED);
	}
	munmap(a, NPAGES * PG);
	double med = floors_median(v, n);
	free(v);
	return med;
}

#endif
