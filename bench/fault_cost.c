/*
 * fault_cost.c - micro-benchmark of the fault path, side by side in one run.
 *
 * What it measures, per 4 KiB page, each as p50/p99 (all samples of all rounds) and the
 * median and spread of the per-round medians:
 *
 *   floor (no fault, no thread):
 *     ioctl-continue   UFFDIO_CONTINUE of a memfd page already in the page cache
 *     ioctl-copy       UFFDIO_COPY of one page into anonymous memory (reference)
 *     plain-fault      a first-touch fault on anonymous memory, no userfaultfd
 *   bare round trip (a minimal handler thread: poll, read, one ioctl; no runtime):
 *     rt-minor         touch -> MINOR fault -> handler UFFDIO_CONTINUE -> resume
 *     rt-minor+copy    the page is absent from the memfd (a MISSING fault); the handler
 *                      copies 4 KiB into it through the alias, then UFFDIO_CONTINUE:
 *                      exactly what the runtime does for a miss, minus the runtime
 *     rt-missing       touch -> MISSING fault on anonymous memory -> UFFDIO_COPY
 *     rt-minor-xcpu    rt-minor with the handler pinned to the other CPU
 *   the runtime (fs_runtime_start, mem backend at 0 us / unlimited bandwidth):
 *     demand           first touch (read) of a page that was written and evicted,
 *                      policy none, random order: a demand miss
 *     hit              first touch of a prefetched page (readahead, sequential read):
 *                      a minor fault + UFFDIO_CONTINUE, counted as a prefetch hit
 *     zero-read/write  first touch of a never-written page
 *   each under cpus=auto (program and pager on one CPU, the default), cpus=all
 *   (unpinned, the scheduler decides) and "cross" (program on CPU A, pager pinned to
 *   CPU B: the cross-vCPU cost made explicit).
 *
 * Every runtime touch is classified by the runtime's own counters read before and
 * after it (demand_fetches, prefetch_hits, late_hits, zero_fills), so "demand" holds
 * only touches that were demand misses, "hit" only prefetch hits that were already
 * landed (late hits are reported apart).  Measurements are interleaved: each round runs
 * every configuration once, in a rotated order, so a noisy neighbour hits them alike.
 *
 *   build/bench/fault_cost [--rounds N] [--samples N] [--only name,name,...]
 *
 * --only runs a subset (names as printed; prefix match), e.g. for
 *   strace -f -c build/bench/fault_cost --only demand/auto
 * Not a test: it measures and prints.
 */
#include "farsight.h"
#include "runtime/runtime.h"
#include "common/util.h"
#include "floors.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>


static int rounds = 5, nsamples = 2000;
static const char *only;
static int cpu_a = 0, cpu_b = 1; /* the program's CPU and "the other" CPU */

/* ---- samples ------------------------------------------------------------------- */

struct series {
	const char *name;
	const char *what;
	uint32_t *ns;       /* all samples, all rounds */
	size_t n, cap;
	double round_med[64];
	int nround;
	uint64_t touches, ctxsw; /* touches timed, context switches of the toucher */
	char note[160];
};

#define MAX_SERIES 32
static struct series series[MAX_SERIES];
static int nseries;

static struct series *get_series(const char *name, const char *what)
{
	for (int i = 0; i < nseries; i++)
		if (!strcmp(series[i].name, name))
			return &series[i];
	struct series *s = &series[nseries++];
	s->name = name;
	s->what = what;
	return s;
}

static void add(struct series *s, uint64_t ns)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 4096;
		s->ns = realloc(s->ns, s->cap * sizeof(*s->ns));
	}
	s->ns[s->n++] = ns > UINT32_MAX ? UINT32_MAX : (uint32_t)ns;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

static double pct(uint32_t *v, size_t n, double q)
{
	if (!n)
		return 0;
	qsort(v, n, sizeof(*v), cmp_u32);
	size_t i = (size_t)(q * (double)(n - 1) + 0.5);
	return v[i];
}

/* Close a round of a series: its median of the samples added since `from`. */
static void end_round(struct series *s, size_t from)
{
	size_t n = s->n - from;
	if (!n || s->nround >= 64)
		return;
	uint32_t *tmp = malloc(n * sizeof(*tmp));
	memcpy(tmp, s->ns + from, n * sizeof(*tmp));
	s->round_med[s->nround++] = pct(tmp, n, 0.5);
	free(tmp);
}

static long ctx_switches(void)
{
	struct rusage ru;
	getrusage(RUSAGE_THREAD, &ru);
	return ru.ru_nvcsw + ru.ru_nivcsw;
}

static int selected(const char *name)
{
	if (!only)
		return 1;
	char buf[256];
	snprintf(buf, sizeof(buf), "%s", only);
	for (char *t = strtok(buf, ","); t; t = strtok(NULL, ","))
		if (!strncmp(name, t, strlen(t)))
			return 1;
	return 0;
}

static char srcpage[PG] __attribute__((aligned(4096)));

/* ---- floors: the ioctls alone ------------------------------------------------------ */

static void bench_ioctl_continue(void)
{
	struct series *s = get_series("ioctl-continue", "UFFDIO_CONTINUE, page in page cache, no fault");
	struct memfd_pair m;
	memfd_pair_open(&m);
	size_t from = s->n;
	for (int i = 0; i < nsamples; i++) {
		char *p = m.app + (size_t)(i % NPAGES) * PG;
		uint64_t t0 = now_ns();
		do_continue(m.uffd, p);
		add(s, now_ns() - t0);
		madvise(p, PG, MADV_DONTNEED); /* unmap; the page stays in the page cache */
	}
	end_round(s, from);
	memfd_pair_close(&m);
}

static void bench_ioctl_copy(void)
{
	struct series *s = get_series("ioctl-copy", "UFFDIO_COPY into anonymous memory, no fault");
	char *a = mmap(NULL, NPAGES * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int fd = new_uffd(0);
	uffd_register(fd, a, NPAGES * PG, UFFDIO_REGISTER_MODE_MISSING);
	size_t from = s->n;
	for (int i = 0; i < nsamples; i++) {
		char *p = a + (size_t)(i % NPAGES) * PG;
		uint64_t t0 = now_ns();
		do_copy(fd, p, srcpage);
		add(s, now_ns() - t0);
		madvise(p, PG, MADV_DONTNEED);
	}
	end_round(s, from);
	close(fd);
	munmap(a, NPAGES * PG);
}

static void bench_plain_fault(void)
{
	struct series *s = get_series("plain-fault", "first-touch read fault, anonymous, no userfaultfd");
	char *a = mmap(NULL, NPAGES * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	madvise(a, NPAGES * PG, MADV_NOHUGEPAGE);
	size_t from = s->n;
	for (int i = 0; i < nsamples; i++) {
		volatile char *p = a + (size_t)(i % NPAGES) * PG;
		uint64_t t0 = now_ns();
		p[0] = 1; /* a write: a read would map the shared zero page */
		add(s, now_ns() - t0);
		madvise((void *)p, PG, MADV_DONTNEED);
	}
	end_round(s, from);
	munmap(a, NPAGES * PG);
}

/* ---- bare round trip: a minimal handler thread ------------------------------------- */

enum { H_CONTINUE, H_COPY_CONTINUE, H_UFFDIO_COPY };

struct handler {
	int uffd, stopfd, mode, cpu;
	char *alias, *app; /* H_COPY_CONTINUE: copy srcpage into the alias first */
	pthread_t th;
};

static void *handler_main(void *arg)
{
	struct handler *h = arg;
	if (h->cpu >= -1)
		pin_self(h->cpu);
	for (;;) {
		struct pollfd p[2] = { { h->uffd, POLLIN, 0 }, { h->stopfd, POLLIN, 0 } };
		if (poll(p, 2, -1) < 0 && errno != EINTR)
			die("poll");
		if (p[1].revents)
			return NULL;
		struct uffd_msg msg;
		if (read(h->uffd, &msg, sizeof(msg)) != sizeof(msg))
			continue;
		if (msg.event != UFFD_EVENT_PAGEFAULT)
			continue;
		char *page = (char *)(uintptr_t)(msg.arg.pagefault.address & ~(PG - 1));
		switch (h->mode) {
		case H_COPY_CONTINUE:
			memcpy(h->alias + (page - h->app), srcpage, PG);
			/* fall through */
		case H_CONTINUE:
			do_continue(h->uffd, page);
			break;
		case H_UFFDIO_COPY:
			do_copy(h->uffd, page, srcpage);
			break;
		}
	}
}

static void handler_start(struct handler *h)
{
	h->stopfd = eventfd(0, EFD_CLOEXEC);
	pthread_create(&h->th, NULL, handler_main, h);
	usleep(2000); /* let it reach poll() */
}

static void handler_stop(struct handler *h)
{
	uint64_t one = 1;
	if (write(h->stopfd, &one, sizeof(one)) < 0)
		die("eventfd");
	pthread_join(h->th, NULL);
	close(h->stopfd);
}

/* mode: H_*; handler_cpu: CPU of the handler (the toucher is on cpu_a). */
static void bench_round_trip(const char *name, const char *what, int mode, int handler_cpu)
{
	struct series *s = get_series(name, what);
	pin_self(cpu_a);
	struct handler h = { .mode = mode, .cpu = handler_cpu };
	struct memfd_pair m = { 0 };
	char *area;
	if (mode == H_UFFDIO_COPY) {
		area = mmap(NULL, NPAGES * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			    -1, 0);
		h.uffd = new_uffd(UFFD_FEATURE_THREAD_ID);
		uffd_register(h.uffd, area, NPAGES * PG, UFFDIO_REGISTER_MODE_MISSING);
	} else {
		memfd_pair_open(&m);
		area = m.app;
		h.uffd = m.uffd;
		h.alias = m.alias;
		h.app = m.app;
		if (mode == H_COPY_CONTINUE) { /* every page absent: MISSING faults, as in the
						* runtime, resolved by filling the alias + CONTINUE */
			fallocate(m.memfd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, (off_t)m.len);
			uffd_register(m.uffd, m.app, m.len,
				      UFFDIO_REGISTER_MODE_MINOR | UFFDIO_REGISTER_MODE_MISSING);
		}
	}
	handler_start(&h);
	size_t from = s->n;
	long cs0 = ctx_switches();
	for (int i = 0; i < nsamples; i++) {
		volatile char *p = area + (size_t)(i % NPAGES) * PG;
		uint64_t t0 = now_ns();
		(void)p[0];
		add(s, now_ns() - t0);
		if (mode == H_COPY_CONTINUE)
			fallocate(m.memfd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
				  (off_t)((size_t)(i % NPAGES) * PG), (off_t)PG);
		else
			madvise((void *)p, PG, MADV_DONTNEED);
	}
	s->ctxsw += (uint64_t)(ctx_switches() - cs0);
	s->touches += (uint64_t)nsamples;
	end_round(s, from);
	handler_stop(&h);
	if (mode == H_UFFDIO_COPY) {
		close(h.uffd);
		munmap(area, NPAGES * PG);
	} else {
		memfd_pair_close(&m);
	}
	pin_self(-1);
}

/* ---- the runtime ----------------------------------------------------------------- */

struct placement {
	const char *name; /* auto, all, cross */
	const char *cpus;
	int pager_cpu;
};

static fs_config rt_config(const struct placement *pl, const char *policy, uint64_t budget_pages)
{
	fs_config cfg;
	char err[256];
	if (fs_config_from_env(&cfg, err, sizeof(err))) {
		fprintf(stderr, "config: %s\n", err);
		exit(1);
	}
	cfg.local_mem = budget_pages * PG;
	if (fs_config_set(&cfg, "prefetch", policy, err, sizeof(err))) {
		fprintf(stderr, "config: %s\n", err);
		exit(1);
	}
	cfg.mem_latency_us = 0;
	cfg.mem_bandwidth_gbps = 0;
	cfg.arena_size = 1ull << 30;
	cfg.arena_base = 0;
	cfg.quiet = 1;
	if (fs_config_set(&cfg, "cpus", pl->cpus, err, sizeof(err))) {
		fprintf(stderr, "config: %s\n", err);
		exit(1);
	}
	cfg.pager_cpu = pl->pager_cpu;
	return cfg;
}

/* Where the pager thread is allowed to run and where it last ran. */
static void describe_pager(char *out, size_t cap)
{
	out[0] = 0;
	DIR *d = opendir("/proc/self/task");
	if (!d)
		return;
	struct dirent *e;
	while ((e = readdir(d))) {
		char path[300], comm[64] = "", stat[1024];
		snprintf(path, sizeof(path), "/proc/self/task/%s/comm", e->d_name);
		FILE *f = fopen(path, "r");
		if (!f)
			continue;
		if (!fgets(comm, sizeof(comm), f))
			comm[0] = 0;
		fclose(f);
		if (strncmp(comm, "farsight-pager", 14))
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%s/stat", e->d_name);
		f = fopen(path, "r");
		int last = -1;
		if (f && fgets(stat, sizeof(stat), f)) {
			char *p = strrchr(stat, ')');
			for (int field = 2; p && field < 39; field++)
				p = strchr(p + 1, ' ');
			if (p)
				last = atoi(p + 1);
		}
		if (f)
			fclose(f);
		cpu_set_t s;
		CPU_ZERO(&s);
		sched_getaffinity(atoi(e->d_name), sizeof(s), &s);
		char mask[64] = "";
		for (int c = 0; c < 64 && c < CPU_SETSIZE; c++)
			if (CPU_ISSET(c, &s))
				snprintf(mask + strlen(mask), sizeof(mask) - strlen(mask), "%s%d",
					 mask[0] ? "," : "", c);
		snprintf(out, cap, "pager allowed on CPU {%s}, last ran on %d", mask, last);
	}
	closedir(d);
}

static void describe_self(char *out, size_t cap)
{
	cpu_set_t s;
	CPU_ZERO(&s);
	sched_getaffinity(0, sizeof(s), &s);
	char mask[64] = "";
	for (int c = 0; c < 64 && c < CPU_SETSIZE; c++)
		if (CPU_ISSET(c, &s))
			snprintf(mask + strlen(mask), sizeof(mask) - strlen(mask), "%s%d",
				 mask[0] ? "," : "", c);
	snprintf(out, cap, "program on CPU {%s} (now %d)", mask, sched_getcpu());
}

struct ctr {
	uint64_t faults, demand, hits, late, zero;
};

static struct ctr ctr_read(fs_runtime *rt)
{
	struct ctr c = {
		atomic_load_explicit(&rt->c.faults, memory_order_relaxed),
		atomic_load_explicit(&rt->c.demand_fetches, memory_order_relaxed),
		atomic_load_explicit(&rt->c.page.prefetch_hits, memory_order_relaxed),
		atomic_load_explicit(&rt->c.page.late_hits, memory_order_relaxed),
		atomic_load_explicit(&rt->c.page.zero_fills, memory_order_relaxed),
	};
	return c;
}

enum { K_DEMAND, K_HIT, K_LATE, K_ZERO, K_OTHER, K_NOFAULT };

static int classify(const struct ctr *a, const struct ctr *b)
{
	if (b->faults == a->faults)
		return K_NOFAULT;
	if (b->demand - a->demand == 1 && b->faults - a->faults == 1)
		return K_DEMAND;
	if (b->late != a->late)
		return K_LATE;
	if (b->hits - a->hits == 1 && b->faults - a->faults == 1 && b->demand == a->demand)
		return K_HIT;
	if (b->zero - a->zero == 1 && b->faults - a->faults == 1)
		return K_ZERO;
	return K_OTHER;
}

static uint64_t xorshift(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

static char placement_note[3][200];

/* One runtime configuration for one round.  kind: "demand", "hit", "zero". */
static void bench_runtime(const char *kind, const struct placement *pl, int pi)
{
	static char names[64][48];
	static int nnames;
	char key[48];
	snprintf(key, sizeof(key), "%s/%s", kind, pl->name);
	const char *name = NULL;
	for (int i = 0; i < nnames; i++)
		if (!strcmp(names[i], key))
			name = names[i];
	if (!name) {
		snprintf(names[nnames], sizeof(names[0]), "%s", key);
		name = names[nnames++];
	}
	if (!selected(name))
		return;

	pin_self(cpu_a); /* auto then picks cpu_a; all/cross are set below */
	if (!strcmp(pl->cpus, "all"))
		pin_self(-1);
	int demand = !strcmp(kind, "demand"), hit = !strcmp(kind, "hit");
	const uint64_t budget = 256, block = (uint64_t)nsamples + 2 * budget;
	fs_config cfg = rt_config(pl, hit ? "readahead" : "none", budget);
	fs_runtime *rt;
	char err[256];
	if (fs_runtime_start(&cfg, &rt, err, sizeof(err))) {
		fprintf(stderr, "fs_runtime_start: %s\n", err);
		exit(1);
	}
	char *a = fs_alloc(rt, block * PG);
	struct series *sz_w = NULL, *main_s, *late_s = NULL, *miss_s = NULL;
	char nm[64];
	static char snames[64][64];
	static int nsn;
#define SERIES(var, fmt, what)                                                               \
	do {                                                                                   \
		snprintf(nm, sizeof(nm), fmt, pl->name);                                       \
		int f_ = -1;                                                                   \
		for (int i_ = 0; i_ < nsn; i_++)                                               \
			if (!strcmp(snames[i_], nm))                                           \
				f_ = i_;                                                       \
		if (f_ < 0) {                                                                  \
			f_ = nsn++;                                                            \
			snprintf(snames[f_], sizeof(snames[0]), "%s", nm);                    \
		}                                                                              \
		var = get_series(snames[f_], what);                                            \
	} while (0)

	if (demand) {
		SERIES(main_s, "demand/%s", "runtime: demand miss (read of a written+evicted page), policy none");
		SERIES(sz_w, "zero-write/%s", "runtime: first write of a never-written page");
	} else if (hit) {
		SERIES(main_s, "hit/%s", "runtime: prefetch hit (readahead, sequential read), landed");
		SERIES(late_s, "late-hit/%s", "runtime: prefetch hit still in flight");
		SERIES(miss_s, "ra-miss/%s", "runtime: demand miss under readahead (window start)");
	} else {
		SERIES(main_s, "zero-read/%s", "runtime: first read of a never-written page");
	}
	size_t from_main = main_s->n, from_w = sz_w ? sz_w->n : 0;
	size_t from_late = late_s ? late_s->n : 0, from_miss = miss_s ? miss_s->n : 0;

	if (!strcmp(kind, "zero")) {
		long cs0 = ctx_switches();
		for (uint64_t i = 0; i < block; i++) {
			volatile char *p = a + i * PG;
			struct ctr c0 = ctr_read(rt);
			uint64_t t0 = now_ns();
			(void)p[0];
			uint64_t dt = now_ns() - t0;
			struct ctr c1 = ctr_read(rt);
			if (classify(&c0, &c1) == K_ZERO)
				add(main_s, dt);
		}
		main_s->ctxsw += (uint64_t)(ctx_switches() - cs0);
		main_s->touches += block;
	} else {
		/* Write the whole block (first writes: zero fills), so all but the last
		 * `budget` pages are evicted to far memory. */
		for (uint64_t i = 0; i < block; i++) {
			volatile char *p = a + i * PG;
			struct ctr c0 = ctr_read(rt);
			uint64_t t0 = now_ns();
			p[0] = (char)i;
			uint64_t dt = now_ns() - t0;
			struct ctr c1 = ctr_read(rt);
			if (sz_w && classify(&c0, &c1) == K_ZERO)
				add(sz_w, dt);
			memset((char *)p + 1, (int)i, 64);
		}
		/* Let background reclaim settle. */
		usleep(2000);
		uint64_t *order = malloc(block * sizeof(*order));
		for (uint64_t i = 0; i < block; i++)
			order[i] = i;
		if (demand) { /* random order over the evicted part: misses */
			uint64_t x = 88172645463325252ull + (uint64_t)main_s->nround;
			for (uint64_t i = block - budget - 1; i > 0; i--) {
				uint64_t j = xorshift(&x) % (i + 1);
				uint64_t t = order[i];
				order[i] = order[j];
				order[j] = t;
			}
		}
		long cs0 = ctx_switches();
		uint64_t n = block - budget, bad = 0;
		for (uint64_t k = 0; k < n; k++) {
			volatile char *p = a + order[k] * PG;
			struct ctr c0 = ctr_read(rt);
			uint64_t t0 = now_ns();
			char v = p[0];
			uint64_t dt = now_ns() - t0;
			struct ctr c1 = ctr_read(rt);
			bad += v != (char)order[k];
			switch (classify(&c0, &c1)) {
			case K_DEMAND:
				add(demand ? main_s : miss_s, dt);
				break;
			case K_HIT:
				if (hit)
					add(main_s, dt);
				break;
			case K_LATE:
				if (late_s)
					add(late_s, dt);
				break;
			}
		}
		main_s->ctxsw += (uint64_t)(ctx_switches() - cs0);
		main_s->touches += n;
		if (bad) {
			fprintf(stderr, "fault_cost: %llu pages read back wrong data\n",
				(unsigned long long)bad);
			exit(1);
		}
		free(order);
	}
	char self[100], pager[100];
	describe_self(self, sizeof(self));
	describe_pager(pager, sizeof(pager));
	snprintf(placement_note[pi], sizeof(placement_note[pi]), "cpus=%s%s: %s; %s", pl->cpus,
		 pl->pager_cpu >= 0 ? " pager_cpu=B" : "", self, pager);
	end_round(main_s, from_main);
	if (sz_w)
		end_round(sz_w, from_w);
	if (late_s)
		end_round(late_s, from_late);
	if (miss_s)
		end_round(miss_s, from_miss);
	fs_runtime_stop(rt);
	pin_self(-1);
}

/* ---- report ------------------------------------------------------------------------ */

static double series_med(struct series *s, double *lo, double *hi)
{
	double v[64];
	int n = s->nround;
	memcpy(v, s->round_med, (size_t)n * sizeof(double));
	for (int i = 1; i < n; i++)
		for (int j = i; j > 0 && v[j] < v[j - 1]; j--) {
			double t = v[j];
			v[j] = v[j - 1];
			v[j - 1] = t;
		}
	*lo = n ? v[0] : 0;
	*hi = n ? v[n - 1] : 0;
	return n ? v[n / 2] : 0;
}

static struct series *find_series(const char *name)
{
	for (int i = 0; i < nseries; i++)
		if (!strcmp(series[i].name, name) && series[i].n)
			return &series[i];
	return NULL;
}

static double p50_of(const char *name)
{
	struct series *s = find_series(name);
	return s ? pct(s->ns, s->n, 0.5) : 0;
}

/* Median over rounds of (round median of a) / (round median of b), and its range. */
static void print_ratio(const char *a, const char *b, double goal)
{
	struct series *x = find_series(a), *y = find_series(b);
	if (!x || !y)
		return;
	int n = FS_MIN(x->nround, y->nround);
	double r[64];
	for (int i = 0; i < n; i++) {
		r[i] = x->round_med[i] / y->round_med[i];
		for (int j = i; j > 0 && r[j] < r[j - 1]; j--) {
			double t = r[j];
			r[j] = r[j - 1];
			r[j - 1] = t;
		}
	}
	if (!n)
		return;
	printf("  %-14s / %-22s = %.2fx (per-round ratios %.2f-%.2f; overall p50 %.2f / %.2f us)",
	       a, b, r[n / 2], r[0], r[n - 1], p50_of(a) / 1e3, p50_of(b) / 1e3);
	if (goal > 0)
		printf("  -> %s", r[n / 2] <= goal ? "HOLDS" : "DOES NOT HOLD");
	printf("\n");
}

int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--rounds") && i + 1 < argc)
			rounds = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--samples") && i + 1 < argc)
			nsamples = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--only") && i + 1 < argc)
			only = argv[++i];
		else {
			fprintf(stderr, "usage: %s [--rounds N] [--samples N] [--only name,...]\n",
				argv[0]);
			return 2;
		}
	}
	if (rounds < 1 || rounds > 64 || nsamples < 16) {
		fprintf(stderr, "fault_cost: rounds 1..64, samples >= 16\n");
		return 2;
	}
	memset(srcpage, 7, sizeof(srcpage));
	cpu_a = sched_getcpu() < 0 ? 0 : sched_getcpu();
	int ncpu = (int)sysconf(_SC_NPROCESSORS_ONLN);
	cpu_b = ncpu > 1 ? (cpu_a + 1) % ncpu : cpu_a;

	char halt[64] = "?";
	FILE *f = fopen("/sys/module/haltpoll/parameters/guest_halt_poll_ns", "r");
	if (f) {
		if (!fgets(halt, sizeof(halt), f))
			strcpy(halt, "?");
		fclose(f);
		halt[strcspn(halt, "\n")] = 0;
	}
	double la[3] = { 0 };
	getloadavg(la, 3);
	uint64_t t0 = now_ns();
	for (int i = 0; i < 1000; i++)
		(void)now_ns();
	double timer_ns = (double)(now_ns() - t0) / 1000;
	printf("fault_cost: %d rounds x %d samples per configuration, interleaved; %d CPUs; "
	       "CPU A = %d, CPU B = %d\n",
	       rounds, nsamples, ncpu, cpu_a, cpu_b);
	printf("  guest_halt_poll_ns = %s (left unchanged); load average %.2f; "
	       "clock_gettime costs %.0f ns (included in every sample)\n",
	       halt, la[0], timer_ns);
	printf("  runtime: mem backend, latency 0 us, bandwidth unlimited, budget 256 pages, "
	       "spin_us %s\n",
	       getenv("FARSIGHT_SPIN_US") ? getenv("FARSIGHT_SPIN_US") : "default");

	const struct placement pls[3] = {
		{ "auto", "auto", -1 },
		{ "all", "all", -1 },
		{ "cross", "", cpu_b },
	};
	static char cross_cpus[16];
	snprintf(cross_cpus, sizeof(cross_cpus), "%d", cpu_a);
	struct placement plx[3] = { pls[0], pls[1], pls[2] };
	plx[2].cpus = cross_cpus;

	enum { N_STEPS = 16 };
	for (int r = 0; r < rounds; r++) {
		for (int k = 0; k < N_STEPS; k++) {
			int step = (k + r * 5) % N_STEPS; /* rotate the order every round */
			switch (step) {
			case 0: if (selected("ioctl-continue")) bench_ioctl_continue(); break;
			case 1: if (selected("ioctl-copy")) bench_ioctl_copy(); break;
			case 2: if (selected("plain-fault")) bench_plain_fault(); break;
			case 3:
				if (selected("rt-minor/same-cpu"))
					bench_round_trip("rt-minor/same-cpu",
							 "bare round trip: MINOR fault, handler CONTINUE, same CPU",
							 H_CONTINUE, cpu_a);
				break;
			case 4:
				if (selected("rt-minor+copy/same-cpu"))
					bench_round_trip("rt-minor+copy/same-cpu",
							 "bare round trip: MISSING fault on memfd, handler fills the page via the alias + CONTINUE",
							 H_COPY_CONTINUE, cpu_a);
				break;
			case 5:
				if (selected("rt-missing/same-cpu"))
					bench_round_trip("rt-missing/same-cpu",
							 "bare round trip: MISSING fault (anon), handler UFFDIO_COPY, same CPU",
							 H_UFFDIO_COPY, cpu_a);
				break;
			case 6:
				if (selected("rt-minor/other-cpu"))
					bench_round_trip("rt-minor/other-cpu",
							 "bare round trip: MINOR fault, handler pinned to the other CPU",
							 H_CONTINUE, cpu_b);
				break;
			case 7:
				if (selected("rt-minor/unpinned"))
					bench_round_trip("rt-minor/unpinned",
							 "bare round trip: MINOR fault, handler unpinned",
							 H_CONTINUE, -1);
				break;
			case 8: bench_runtime("demand", &plx[0], 0); break;
			case 9: bench_runtime("demand", &plx[1], 1); break;
			case 10: bench_runtime("demand", &plx[2], 2); break;
			case 11: bench_runtime("hit", &plx[0], 0); break;
			case 12: bench_runtime("hit", &plx[1], 1); break;
			case 13: bench_runtime("zero", &plx[0], 0); break;
			case 14: bench_runtime("zero", &plx[1], 1); break;
			case 15: bench_runtime("hit", &plx[2], 2); break;
			}
		}
	}

	printf("\n%-24s %7s %7s %8s %8s %15s %7s %9s  %s\n", "configuration", "p10 us", "p50 us",
	       "p99 us",
	       "med us", "round-med range", "samples", "csw/touch", "what");
	for (int i = 0; i < nseries; i++) {
		struct series *s = &series[i];
		if (!s->n)
			continue;
		double lo, hi, med = series_med(s, &lo, &hi);
		double p10 = pct(s->ns, s->n, 0.1), p50 = pct(s->ns, s->n, 0.5),
		       p99 = pct(s->ns, s->n, 0.99);
		char csw[16] = "-";
		if (s->touches)
			snprintf(csw, sizeof(csw), "%.2f", (double)s->ctxsw / (double)s->touches);
		printf("%-24s %7.2f %7.2f %8.2f %8.2f %7.2f-%-7.2f %7zu %9s  %s\n", s->name,
		       p10 / 1e3, p50 / 1e3,
		       p99 / 1e3, med / 1e3, lo / 1e3, hi / 1e3, s->n, csw, s->what);
	}
	printf("\nthread placement (as seen at the end of the last round):\n");
	for (int i = 0; i < 3; i++)
		if (placement_note[i][0])
			printf("  %-5s %s\n", plx[i].name, placement_note[i]);

	/* Ratios are paired by round: the machine drifts between a quiet and a loaded
	 * regime (another process on the CPU adds two cross-process switches per fault),
	 * and each round's configurations run within about a second of each other. */
	if (find_series("demand/auto") && find_series("rt-minor/same-cpu"))
		printf("\ngoal: runtime demand fault <= 1.30 x bare fault round trip (same CPU)\n");
	print_ratio("demand/auto", "rt-minor/same-cpu", 1.30);
	print_ratio("demand/auto", "rt-minor+copy/same-cpu", 1.30);
	print_ratio("hit/auto", "rt-minor/same-cpu", 0);
	print_ratio("demand/all", "demand/auto", 0);
	print_ratio("demand/cross", "demand/auto", 0);
	return 0;
}
