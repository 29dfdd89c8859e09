/*
 * report.c - the report block (report.h): processes publish their statistics into a
 * mapping shared with `farsight run`, which reports after the program has ended.
 *
 * Why not report from inside the program, as a library would: a program killed by a
 * signal, stopped by `timeout`, or leaving through _exit or abort runs no exit handler,
 * and a statically linked program never loads the shim at all.  The process that
 * started the program outlives it in every case, so it is the one that reports; the
 * program only has to keep its numbers where that process can read them.
 */
#include "runtime/report.h"
#include "backend/backend.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

struct fs_report *fs_report_create(int *fd)
{
	int m = memfd_create("farsight-report", 0);
	if (m < 0)
		return NULL;
	/* A high descriptor, out of the way of the ones programs expect (0-2, 3...). */
	int hi = fcntl(m, F_DUPFD, 200);
	if (hi >= 0) {
		close(m);
		m = hi;
	}
	struct fs_report *r = MAP_FAILED;
	if (ftruncate(m, sizeof(struct fs_report)) == 0)
		r = fs_sys_mmap(NULL, sizeof(*r), PROT_READ | PROT_WRITE, MAP_SHARED, m, 0);
	if (r == MAP_FAILED) {
		close(m);
		return NULL;
	}
	r->magic = FS_REPORT_MAGIC;
	*fd = m;
	return r;
}

/* Add an ended process's counts to the tree's totals and zero them in its slot; its
 * peak raises the totals' peak (a compare-exchange: two processes may end at once). */
static void fold_slot(struct fs_report *r, struct fs_report_proc *s)
{
#define FOLD(f) atomic_fetch_add(&r->done.f, atomic_exchange(&s->f, 0))
	FOLD(faults);
	FOLD(demand_fetches);
	FOLD(zero_fills);
	FOLD(evictions);
	FOLD(far_bytes_read);
	FOLD(far_bytes_written);
#undef FOLD
	uint64_t pk = atomic_exchange(&s->peak_pages, 0);
	uint64_t old = atomic_load(&r->done.peak_pages);
	while (pk > old && !atomic_compare_exchange_weak(&r->done.peak_pages, &old, pk))
		;
}

/* A slot for this pid: its own from an image it exec'd from (folded into `done`
 * first: that image ended), else a free one. */
static int claim_slot(struct fs_report *r, pid_t me)
{
	int free_slot = -1;
	for (int i = 0; i < FS_REPORT_PROCS; i++) {
		int32_t p = atomic_load(&r->proc[i].pid);
		if (p == me) {
			fold_slot(r, &r->proc[i]);
			return i;
		}
		if (p == 0 && free_slot < 0)
			free_slot = i;
	}
	for (int i = free_slot < 0 ? FS_REPORT_PROCS : free_slot; i < FS_REPORT_PROCS; i++) {
		int32_t zero = 0;
		if (atomic_compare_exchange_strong(&r->proc[i].pid, &zero, (int32_t)me))
			return i;
	}
	return -1;
}

void fs_runtime_attach_report(fs_runtime *rt, int root)
{
	fs_report_attach(rt, root);
}

void fs_report_attach(fs_runtime *rt, int root)
{
	const char *env = getenv("FARSIGHT_REPORT_FD");
	if (!env || !*env)
		return;
	char *end;
	long fd = strtol(env, &end, 10);
	if (*end || fd < 0)
		return;
	struct fs_report *r = fs_sys_mmap(NULL, sizeof(*r), PROT_READ | PROT_WRITE, MAP_SHARED,
					  (int)fd, 0);
	if (r == MAP_FAILED)
		return; /* closed by a program that closes every descriptor: no report */
	if (r->magic != FS_REPORT_MAGIC) {
		fs_sys_munmap(r, sizeof(*r));
		return;
	}
	rt->report = r;
	rt->report_root = root;
	rt->report_slot = claim_slot(r, getpid());
	atomic_fetch_add(&r->processes, 1);
	if (rt->report_slot < 0)
		atomic_fetch_add(&r->untracked, 1);
	if (root) {
		/* A wrapper launcher that exec'd this image published its own numbers:
		 * the summary is this image's. */
		memset(&r->c, 0, sizeof(r->c));
		memset(&r->lat_demand, 0, sizeof(r->lat_demand));
		memset(&r->lat_hit, 0, sizeof(r->lat_hit));
		r->note[0] = 0;
		atomic_store(&r->budget_pages, rt->pages.budget);
		atomic_store(&r->start_ns, rt->start_ns);
		snprintf(r->placement, sizeof(r->placement), "%s", rt->placement);
		snprintf(r->command, sizeof(r->command), "%s", rt->command);
		atomic_store(&r->root_started, 1);
	}
	fs_report_publish(rt, 0);
}

void fs_report_attach_forked(fs_runtime *rt)
{
	struct fs_report *r = rt->report;
	rt->report_slot = claim_slot(r, getpid());
	atomic_fetch_add(&r->processes, 1);
	if (rt->report_slot < 0)
		atomic_fetch_add(&r->untracked, 1);
	fs_report_publish(rt, 0);
}

static void copy_words(void *dst, const void *src, size_t bytes)
{
	_Atomic uint64_t *d = dst;
	const _Atomic uint64_t *s = src;
	for (size_t i = 0; i < bytes / sizeof(uint64_t); i++)
		atomic_store_explicit(&d[i], atomic_load_explicit(&s[i], memory_order_relaxed),
				      memory_order_relaxed);
}

/* The backend's own counters (names copied: the backend's are its static strings)
 * and the process's peak RSS. */
static void publish_backend(struct fs_report *r, fs_runtime *rt)
{
	struct rusage ru;
	if (!getrusage(RUSAGE_SELF, &ru))
		atomic_store_explicit(&r->maxrss_bytes, (uint64_t)ru.ru_maxrss * 1024,
				      memory_order_relaxed);
	if (!rt->be || !rt->be->ops->stats)
		return;
	fs_named_stat st[FS_BACKEND_STATS_MAX];
	int n = rt->be->ops->stats(rt->be, st, FS_BACKEND_STATS_MAX);
	for (int i = 0; i < n; i++) {
		if (strcmp(r->backend_stat_name[i], st[i].name))
			snprintf(r->backend_stat_name[i], sizeof(r->backend_stat_name[i]), "%s",
				 st[i].name);
		uint64_t bits;
		memcpy(&bits, &st[i].value, sizeof(bits));
		atomic_store_explicit(&r->backend_stat_bits[i], bits, memory_order_relaxed);
	}
	atomic_store(&r->n_backend_stats, n > 0 ? (uint32_t)n : 0);
}

void fs_report_publish(fs_runtime *rt, int final)
{
	struct fs_report *r = rt->report;
	if (!r)
		return;
	if (final ? atomic_exchange(&rt->report_final, 1) : atomic_load(&rt->report_final))
		return;
	if ((final || !rt->report_last_ns) && rt->pol && rt->pol->ops->status) {
		/* The policy's run-time complaint (an oracle trace of another program). */
		char msg[512] = "";
		if (rt->pol->ops->status(rt->pol, msg, sizeof(msg))) {
			char line[600];
			snprintf(line, sizeof(line), "prefetcher %s: %s", rt->pol->ops->name, msg);
			fs_report_note(rt, line);
		}
	}
	rt->report_last_ns = fs_now_ns();
	if (rt->report_slot >= 0) {
		struct fs_report_proc *s = &r->proc[rt->report_slot];
#define PUB(f) atomic_store_explicit(&s->f, atomic_load_explicit(&rt->c.f, memory_order_relaxed), \
				     memory_order_relaxed)
#define PUBP(f) atomic_store_explicit(&s->f, atomic_load_explicit(&rt->c.page.f, memory_order_relaxed), \
				      memory_order_relaxed)
		PUB(faults);
		PUB(demand_fetches);
		PUBP(zero_fills);
		PUBP(evictions);
		PUB(far_bytes_read);
		PUB(far_bytes_written);
		atomic_store(&s->peak_pages, atomic_load(&rt->c.page.peak_pages));
#undef PUB
#undef PUBP
	}
	if (rt->report_root) {
		fs_pager_cpu_publish(rt);
		copy_words(&r->c, &rt->c, sizeof(r->c));
		copy_words(&r->lat_demand, &rt->lat_demand, sizeof(r->lat_demand));
		copy_words(&r->lat_hit, &rt->lat_hit, sizeof(r->lat_hit));
		snprintf(r->placement, sizeof(r->placement), "%s", rt->placement);
		publish_backend(r, rt);
		atomic_store(&r->published_ns, rt->report_last_ns);
	}
	if (final && !rt->report_root && rt->report_slot >= 0) {
		/* Fold into the totals and give the slot back. */
		struct fs_report_proc *s = &r->proc[rt->report_slot];
		fold_slot(r, s);
		atomic_store(&s->pid, 0);
	}
}

int fs_report_tick(fs_runtime *rt)
{
	if (!rt->report)
		return -1;
	uint64_t now = fs_now_ns();
	uint64_t last = rt->report_last_ns;
	uint64_t seen = atomic_load_explicit(&rt->c.faults, memory_order_relaxed) +
			atomic_load_explicit(&rt->c.page.evictions, memory_order_relaxed);
	if (seen == rt->report_seen)
		return -1; /* nothing new: sleep as long as there is nothing to do */
	if (now - last >= FS_REPORT_PERIOD_NS) {
		fs_report_publish(rt, 0);
		rt->report_seen = seen;
		return -1;
	}
	return (int)((FS_REPORT_PERIOD_NS - (now - last)) / 1000000) + 1;
}

void fs_report_note(fs_runtime *rt, const char *text)
{
	if (rt->report && rt->report_root)
		snprintf(rt->report->note, sizeof(rt->report->note), "%s", text);
}

void fs_report_local(fs_runtime *rt, int reason, uint64_t bytes)
{
	if (rt && rt->report && reason >= 0 && reason < FS_LOCAL_REASONS)
		atomic_fetch_add_explicit(&rt->report->local_bytes[reason], bytes,
					  memory_order_relaxed);
}

void fs_report_stats(const struct fs_report *r, fs_stats *s)
{
	uint64_t start = atomic_load(&r->start_ns), end = atomic_load(&r->published_ns);
	fs_stats_compute(&r->c, &r->lat_demand, &r->lat_hit, atomic_load(&r->budget_pages),
			 end > start ? (double)(end - start) / 1e9 : 0, s);
	snprintf(s->placement, sizeof(s->placement), "%s", r->placement);
	s->maxrss_bytes = atomic_load(&r->maxrss_bytes);
	s->n_backend_stats = atomic_load(&r->n_backend_stats);
	for (uint32_t i = 0; i < s->n_backend_stats; i++) {
		uint64_t bits = atomic_load(&r->backend_stat_bits[i]);
		memcpy(&s->backend_stats[i].value, &bits, sizeof(bits));
		s->backend_stats[i].name = r->backend_stat_name[i];
	}
	s->processes = atomic_load(&r->processes);
	const struct fs_report_proc *d = &r->done;
	s->tree_faults = atomic_load(&d->faults);
	s->tree_demand_fetches = atomic_load(&d->demand_fetches);
	s->tree_zero_fills = atomic_load(&d->zero_fills);
	s->tree_evictions = atomic_load(&d->evictions);
	s->tree_far_bytes_read = atomic_load(&d->far_bytes_read);
	s->tree_far_bytes_written = atomic_load(&d->far_bytes_written);
	uint64_t peak = atomic_load(&d->peak_pages);
	for (int i = 0; i < FS_REPORT_PROCS; i++) {
		const struct fs_report_proc *p = &r->proc[i];
		if (!atomic_load(&p->pid))
			continue;
		s->tree_faults += atomic_load(&p->faults);
		s->tree_demand_fetches += atomic_load(&p->demand_fetches);
		s->tree_zero_fills += atomic_load(&p->zero_fills);
		s->tree_evictions += atomic_load(&p->evictions);
		s->tree_far_bytes_read += atomic_load(&p->far_bytes_read);
		s->tree_far_bytes_written += atomic_load(&p->far_bytes_written);
		if (atomic_load(&p->peak_pages) > peak)
			peak = atomic_load(&p->peak_pages);
	}
	s->tree_local_peak_bytes = peak * FS_PAGE_SIZE;
}
