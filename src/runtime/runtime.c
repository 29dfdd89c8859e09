/*
 * runtime.c - starting and stopping a runtime, and the free/discard commands.
 *
 * Start-up reserves the arena (a memfd as large as arena_size, sparse), maps it twice
 * (the program's registered view and the runtime's alias view, see runtime.h),
 * registers the program's view with userfaultfd once, opens the backend and the
 * prefetcher and starts the pager thread.  The kernel features it needs are checked
 * here, with a message that names what is missing: minor faults on shmem (5.13+),
 * write-protect on shmem and UFFDIO_CONTINUE_MODE_WP (6.5+) for exact dirty tracking;
 * without the latter every evicted page is written back.
 *
 * free and discard change page states, which only the pager may do, so an app thread
 * posts them to the pager (fs_pager_run_commands carries them out) and waits: a rare
 * path (jemalloc retains and reuses extents), never taken by a fault.
 */
#include "runtime/runtime.h"
#include "runtime/report.h"
#include "common/fds.h"

#include <dirent.h>
#include <errno.h>
#include <sched.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef UFFDIO_CONTINUE_MODE_WP
#define UFFDIO_CONTINUE_MODE_WP ((__u64)1 << 1)
#endif
#ifndef USERFAULTFD_IOC_NEW
#define USERFAULTFD_IOC_NEW _IO(0xAA, 0x00)
#endif

static int open_uffd(char *err, size_t errlen)
{
	int fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (fd >= 0)
		return fd;
	int e = errno;
	/* Unprivileged users may have /dev/userfaultfd instead of the syscall. */
	int dev = open("/dev/userfaultfd", O_RDWR | O_CLOEXEC);
	if (dev >= 0) {
		fd = ioctl(dev, USERFAULTFD_IOC_NEW, O_CLOEXEC | O_NONBLOCK);
		close(dev);
		if (fd >= 0)
			return fd;
	}
	fs_errf(err, errlen,
		"cannot create a userfaultfd: %s; run as root, set vm.unprivileged_userfaultfd=1, "
		"or give access to /dev/userfaultfd",
		strerror(e));
	return -1;
}

/* Does UFFDIO_CONTINUE accept MODE_WP?  Try it on page 0 of the arena. */
static int probe_continue_wp(fs_runtime *rt)
{
	rt->alias[0] = 0; /* put page 0 into the page cache */
	struct uffdio_continue c = { .range = { (uint64_t)(uintptr_t)rt->app, FS_PAGE_SIZE },
				     .mode = UFFDIO_CONTINUE_MODE_WP };
	int ok = ioctl(rt->uffd, UFFDIO_CONTINUE, &c) == 0;
	fs_sys_madvise(rt->alias, FS_PAGE_SIZE, MADV_REMOVE); /* as op_release does */
	return ok;
}

static void read_cmdline(char *out, size_t cap, uint64_t *hash)
{
	char buf[4096];
	ssize_t n = 0;
	int fd = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		n = read(fd, buf, sizeof(buf));
		close(fd);
	}
	if (n < 0)
		n = 0;
	*hash = fs_fnv1a(buf, (size_t)n, FS_FNV_SEED);
	size_t k = 0;
	for (ssize_t i = 0; i < n && k + 1 < cap; i++)
		out[k++] = buf[i] ? buf[i] : ' ';
	while (k && out[k - 1] == ' ')
		k--;
	out[k] = 0;
}

/* Place the calling thread (and so the pager and every thread created later) on the
 * CPUs the `cpus` setting names, and say where in rt->placement.  "auto" picks the CPU
 * we run on now: with the pager on the program's CPU, a fault costs ~6 us instead of
 * ~50 us for a cross-vCPU wake-up (docs/TUNING.md).  That is right for a program with
 * one thread; fs_runtime_threads_started undoes it when the program starts a second
 * one, so a multi-threaded program keeps all its CPUs. */
static int place_threads(fs_runtime *rt, const fs_config *cfg, char *err, size_t errlen)
{
	const char *spec = cfg->cpus; /* as given, for the messages */
	char list[64];
	if (sched_getaffinity(0, sizeof(rt->cpus_before), &rt->cpus_before))
		CPU_ZERO(&rt->cpus_before);
	/* `farsight run` pins the program for cpus=auto before it execs it, and says so
	 * in FARSIGHT_CPUS_PINNED ("cpu:list"), so that every image of it (a wrapper, the
	 * workload it execs) knows the CPUs it had.  The runtime itself never sets
	 * environment variables: some programs (bash) read their environment with their
	 * own getenv, which setenv behind their back breaks. */
	int pinned_before = 0;
	const char *pinned = getenv("FARSIGHT_CPUS_PINNED");
	if (pinned && CPU_COUNT(&rt->cpus_before) == 1) {
		char *end;
		long cpu = strtol(pinned, &end, 10);
		cpu_set_t wider;
		CPU_ZERO(&wider);
		if (*end == ':' && cpu >= 0 && cpu < CPU_SETSIZE && CPU_ISSET((int)cpu, &rt->cpus_before) &&
		    fs_parse_cpus(end + 1, &wider) == 0 && CPU_COUNT(&wider) > 1) {
			rt->cpus_before = wider;
			pinned_before = (int)cpu + 1;
		}
	}
	fs_cpu_list(&rt->cpus_before, list, sizeof(list));
	if (cfg->cpus_kind == FS_CPUS_ALL) {
		snprintf(rt->placement, sizeof(rt->placement), "%s (cpus all)", list);
		return FS_OK;
	}
	cpu_set_t set;
	CPU_ZERO(&set);
	if (cfg->cpus_kind == FS_CPUS_AUTO && pinned_before) {
		snprintf(rt->placement, sizeof(rt->placement),
			 "%d of %s (cpus auto: program and pager share one CPU while the program "
			 "has one thread)", pinned_before - 1, list);
		atomic_store(&rt->pinned, 1);
		return FS_OK;
	}
	if (cfg->cpus_kind == FS_CPUS_AUTO) {
		if (CPU_COUNT(&rt->cpus_before) <= 1) {
			snprintf(rt->placement, sizeof(rt->placement), "%s (cpus auto: the only one)", list);
			return FS_OK;
		}
		int cpu = sched_getcpu();
		if (cpu < 0 || !CPU_ISSET(cpu, &rt->cpus_before))
			for (cpu = 0; cpu < CPU_SETSIZE && !CPU_ISSET(cpu, &rt->cpus_before); cpu++)
				;
		CPU_SET(cpu, &set);
		snprintf(rt->placement, sizeof(rt->placement),
			 "%d of %s (cpus auto: program and pager share one CPU while the program "
			 "has one thread)", cpu, list);
		atomic_store(&rt->pinned, 1);
	} else { /* a list, parsed by the settings table */
		for (int c = 0; c < CPU_SETSIZE && c < 64 * (int)FS_ARRAY_SIZE(cfg->cpus_mask); c++)
			if (cfg->cpus_mask[c / 64] >> (c % 64) & 1)
				CPU_SET(c, &set);
		fs_cpu_list(&set, list, sizeof(list));
		snprintf(rt->placement, sizeof(rt->placement), "%s (cpus %s)", list, spec);
	}
	if (sched_setaffinity(0, sizeof(set), &set)) {
		fs_errf(err, errlen, "cpus '%s': cannot run on those CPUs: %s", spec, strerror(errno));
		atomic_store(&rt->pinned, 0);
		return FS_EINVAL;
	}
	return FS_OK;
}

void fs_runtime_threads_started(fs_runtime *rt)
{
	if (!rt || !atomic_exchange(&rt->pinned, 0))
		return;
	/* Every thread of the process, the pager included, gets its CPUs back; threads
	 * created from now on inherit them from their creator. */
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	while (d && (e = readdir(d))) {
		pid_t tid = (pid_t)atoi(e->d_name);
		if (tid > 0)
			sched_setaffinity(tid, sizeof(rt->cpus_before), &rt->cpus_before);
	}
	if (d)
		closedir(d);
	sched_setaffinity(0, sizeof(rt->cpus_before), &rt->cpus_before);
	char list[64];
	fs_cpu_list(&rt->cpus_before, list, sizeof(list));
	snprintf(rt->placement, sizeof(rt->placement),
		 "%s (cpus auto: the program started threads, so it keeps all its CPUs)", list);
}

/* Open the userfaultfd and register the app view with it once: MISSING and MINOR
 * faults, and write-protect when *wp asks for it and the kernel has it on shmem (*wp
 * says whether it got it).  At start, and in a forked child for its own arena. */
int fs_runtime_open_uffd(fs_runtime *rt, int *wp, char *err, size_t errlen)
{
	rt->uffd = open_uffd(err, errlen);
	if (rt->uffd < 0)
		return FS_ENOSYS;
	struct uffdio_api api = { .api = UFFD_API,
				  .features = UFFD_FEATURE_MINOR_SHMEM |
					      (*wp ? UFFD_FEATURE_WP_HUGETLBFS_SHMEM : 0) |
					      UFFD_FEATURE_THREAD_ID };
	if (ioctl(rt->uffd, UFFDIO_API, &api)) {
		/* Retry without write-protect on shmem (kernels before 5.19). */
		close(rt->uffd);
		rt->uffd = open_uffd(err, errlen);
		api = (struct uffdio_api){ .api = UFFD_API,
					   .features = UFFD_FEATURE_MINOR_SHMEM |
						       UFFD_FEATURE_THREAD_ID };
		if (rt->uffd < 0 || ioctl(rt->uffd, UFFDIO_API, &api)) {
			fs_errf(err, errlen,
				"this kernel's userfaultfd lacks minor faults on shmem (Linux 5.13 or "
				"newer is needed): %s",
				strerror(errno));
			return FS_ENOSYS;
		}
	}
	*wp = *wp && (api.features & UFFD_FEATURE_WP_HUGETLBFS_SHMEM) != 0;
	/* Every descriptor of the runtime moves out of the program's way (common/fds.h). */
	rt->uffd = fs_fd_keep(rt->uffd, "userfaultfd");
	rt->uffd_shadow = fs_fd_keep(fcntl(rt->uffd, F_DUPFD_CLOEXEC, 0), "userfaultfd (copy)");
	size_t size = rt->npages * FS_PAGE_SIZE;
	struct uffdio_register reg = {
		.range = { (uint64_t)(uintptr_t)rt->app, size },
		.mode = UFFDIO_REGISTER_MODE_MISSING | UFFDIO_REGISTER_MODE_MINOR |
			(*wp ? UFFDIO_REGISTER_MODE_WP : 0),
	};
	int r = ioctl(rt->uffd, UFFDIO_REGISTER, &reg);
	if (r && *wp) { /* write-protect on shmem refused: register without it */
		*wp = 0;
		reg.mode &= ~(uint64_t)UFFDIO_REGISTER_MODE_WP;
		r = ioctl(rt->uffd, UFFDIO_REGISTER, &reg);
	}
	if (r) {
		fs_errf(err, errlen, "cannot register the arena with userfaultfd: %s",
			strerror(errno));
		return FS_ENOSYS;
	}
	return FS_OK;
}

/* The one check of the settings (src/common/settings.c), for a configuration filled
 * by hand as for one from the environment. */
static int check_config(const fs_config *cfg, char *err, size_t errlen)
{
	return fs_config_check(cfg, err, errlen);
}

static void teardown(fs_runtime *rt)
{
	if (rt->pol)
		rt->pol->ops->destroy(rt->pol);
	if (rt->be)
		rt->be->ops->close(rt->be);
	if (rt->trace)
		fs_trace_close(rt->trace);
	fs_pages_fini(&rt->pages);
	fs_arena_fini(rt);
	if (rt->app)
		fs_sys_munmap(rt->app, rt->npages * FS_PAGE_SIZE);
	if (rt->alias)
		fs_sys_munmap(rt->alias, rt->npages * FS_PAGE_SIZE);
	fs_fd_close(rt->uffd);
	fs_fd_close(rt->uffd_shadow);
	fs_fd_close(rt->memfd);
	fs_fd_close(rt->wakefd);
	pthread_mutex_destroy(&rt->cmd_mu);
	pthread_cond_destroy(&rt->cmd_cv);
	pthread_mutex_destroy(&rt->trace_mu);
	fs_sys_munmap(rt, sizeof(*rt));
}

int fs_runtime_start(const fs_config *cfg, fs_runtime **out, char *err, size_t errlen)
{
	int rc = check_config(cfg, err, errlen);
	if (rc)
		return rc;
	/* The arrival settings are checked before anything is opened (an unknown
	 * prefetcher is reported by fs_policy_create below). */
	fs_arrival arrival = { 0 };
	const fs_policy_ops *ops = fs_policy_get(cfg->prefetch);
	if (ops && (rc = fs_policy_arrival(cfg, ops, &arrival, err, errlen)))
		return rc;
	/* The runtime struct is large (thread tables, histograms): map it directly. */
	fs_runtime *rt = fs_sys_mmap(NULL, sizeof(*rt), PROT_READ | PROT_WRITE,
				     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (rt == MAP_FAILED) {
		fs_errf(err, errlen, "out of memory for the runtime");
		return FS_ENOMEM;
	}
	memset(rt, 0, sizeof(*rt));
	if ((rc = place_threads(rt, cfg, err, errlen))) {
		fs_sys_munmap(rt, sizeof(*rt));
		return rc;
	}
	rt->cfg = *cfg;
	rt->uffd = rt->uffd_shadow = rt->memfd = rt->wakefd = -1;
	rt->npages = cfg->arena_size / FS_PAGE_SIZE;
	rt->start_ns = fs_now_ns();
	rt->pid = getpid();
	pthread_mutex_init(&rt->cmd_mu, NULL);
	pthread_cond_init(&rt->cmd_cv, NULL);
	pthread_mutex_init(&rt->trace_mu, NULL);
	pthread_mutex_init(&rt->fork.mu, NULL);
	pthread_cond_init(&rt->fork.cv, NULL);
	rt->inherit_fd = rt->inherit_pipe_w = -1;

	rc = FS_ENOMEM;
	rt->memfd = fs_fd_keep(memfd_create("farsight-arena", MFD_CLOEXEC), "arena memfd");
	if (rt->memfd < 0 || ftruncate(rt->memfd, (off_t)cfg->arena_size)) {
		fs_errf(err, errlen, "cannot create the %llu-byte arena memfd: %s",
			(unsigned long long)cfg->arena_size, strerror(errno));
		goto fail;
	}
	size_t size = rt->npages * FS_PAGE_SIZE;
	void *app = MAP_FAILED;
	if (cfg->arena_base) /* a fixed place keeps page numbers stable across runs */
		app = fs_sys_mmap((void *)(uintptr_t)cfg->arena_base, size, PROT_READ | PROT_WRITE,
				  MAP_SHARED | MAP_NORESERVE | MAP_FIXED_NOREPLACE, rt->memfd, 0);
	if (app == MAP_FAILED)
		app = fs_sys_mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE,
				  rt->memfd, 0);
	void *alias = fs_sys_mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE,
				  rt->memfd, 0);
	rt->app = app == MAP_FAILED ? NULL : app;
	rt->alias = alias == MAP_FAILED ? NULL : alias;
	if (!rt->app || !rt->alias) {
		fs_errf(err, errlen, "cannot map the %llu-byte arena: %s; lower arena_size",
			(unsigned long long)size, strerror(errno));
		goto fail;
	}

	/* A forked child gets an arena of its own (fork.c), never this alias. */
	fs_sys_madvise(rt->alias, size, MADV_DONTFORK);
	int wp_feature = 1;
	if ((rc = fs_runtime_open_uffd(rt, &wp_feature, err, errlen)))
		goto fail;
	rt->have_wp = wp_feature && probe_continue_wp(rt);
	if (!rt->have_wp)
		fs_log(2, "no write-protect on shmem: every evicted page is written back");

	if ((rc = fs_arena_init(rt)) ||
	    (rc = fs_pages_init(&rt->pages, rt->npages, cfg->local_mem / FS_PAGE_SIZE,
				cfg->reclaim == FS_RECLAIM_CLOCK, rt->have_wp, &rt->c.page,
				&fs_arena_page_ops, rt))) {
		fs_errf(err, errlen, "out of memory for the runtime's tables");
		goto fail;
	}
	fs_reclaim_init(rt);
	if ((rc = fs_backend_open(cfg, &rt->be, err, errlen)))
		goto fail;
	rt->be->arena_fd = rt->memfd;
	read_cmdline(rt->command, sizeof(rt->command), &fs_policy_live_command_hash);
	if ((rc = fs_policy_create(cfg, &rt->pol, err, errlen)))
		goto fail;
	rt->adaptive = (rt->pol->ops->runtime_flags & FS_POLICY_RT_ADAPTIVE_RECLAIM) != 0;
	fs_driver_init(&rt->driver, rt->pol, &arrival);
	rt->pages.arrival_front = arrival.front;
	if (cfg->record[0]) {
		fs_trace_info info = { .local_mem = cfg->local_mem };
		snprintf(info.prefetch, sizeof(info.prefetch), "%s", fs_policy_get(cfg->prefetch)->name);
		read_cmdline(info.command, sizeof(info.command), &info.command_hash);
		if ((rc = fs_trace_create(cfg->record, &info, &rt->trace))) {
			fs_errf(err, errlen, "cannot create the trace file %s: %s", cfg->record,
				strerror(errno));
			goto fail;
		}
	}
	rt->wakefd = fs_fd_keep(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK), "wake-up eventfd");
	if (rt->wakefd < 0) {
		rc = FS_ENOMEM;
		fs_errf(err, errlen, "eventfd: %s", strerror(errno));
		goto fail;
	}
	if ((rc = fs_pager_start(rt))) {
		fs_errf(err, errlen, "cannot start the pager thread");
		goto fail;
	}
	*out = rt;
	return FS_OK;
fail:
	teardown(rt);
	return rc;
}

void fs_runtime_stop(fs_runtime *rt)
{
	if (!rt)
		return;
	atomic_store(&rt->stop, 1);
	fs_runtime_wake(rt);
	pthread_join(rt->pager, NULL);
	teardown(rt);
}

const fs_config *fs_runtime_config(const fs_runtime *rt)
{
	return &rt->cfg;
}

void fs_runtime_check_fds(fs_runtime *rt)
{
	char why[300];
	if (!fs_fd_intact(rt->uffd, why, sizeof(why)) ||
	    !fs_fd_intact(rt->uffd_shadow, why, sizeof(why)) ||
	    !fs_fd_intact(rt->wakefd, why, sizeof(why)) ||
	    !fs_fd_intact(rt->memfd, why, sizeof(why)))
		fs_pager_fatal(rt, "%s; far memory can no longer be served", why);
}

/* Is the program's view of the arena still wholly mapped?  A program that unmaps part
 * of it with a raw system call (which the shim cannot see) leaves a hole, and the
 * pager's next operation there fails with ENOMEM, which names no cause: say this
 * instead.  Read from /proc/self/maps, on the way to a fatal error only. */
void fs_runtime_check_arena(fs_runtime *rt)
{
	/* Raw reads into a stack buffer: any thread may get here, and one of the program's
	 * must not allocate (its malloc is far memory) on the way to a fatal error. */
	int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	uintptr_t lo = (uintptr_t)rt->app, hi = lo + rt->npages * FS_PAGE_SIZE, at = lo;
	uintptr_t hole_lo = 0, hole_hi = 0;
	char buf[4096];
	size_t have = 0;
	for (;;) {
		ssize_t r = read(fd, buf + have, sizeof(buf) - 1 - have);
		if (r <= 0)
			break;
		have += (size_t)r;
		buf[have] = 0;
		char *line = buf, *nl;
		while (!hole_hi && (nl = strchr(line, '\n'))) {
			unsigned long s, e;
			*nl = 0;
			if (sscanf(line, "%lx-%lx", &s, &e) == 2 && e > at && s < hi) {
				if (s > at) {
					hole_lo = at;
					hole_hi = s;
				}
				at = e;
			}
			line = nl + 1;
		}
		have -= (size_t)(line - buf); /* keep the partial last line */
		memmove(buf, line, have);
		if (hole_hi || have == sizeof(buf) - 1)
			break;
	}
	close(fd);
	if (!hole_hi && at < hi) {
		hole_lo = at;
		hole_hi = hi;
	}
	if (hole_hi)
		fs_pager_fatal(rt, "the program unmapped far memory at %#lx-%#lx (%lu pages) with a raw "
				   "system call that farsight cannot intercept (munmap, mremap or "
				   "mmap(MAP_FIXED) through syscall()): its pages are gone, and far "
				   "memory can no longer be served; unmap memory through libc's munmap",
			       (unsigned long)hole_lo, (unsigned long)hole_hi,
			       (unsigned long)((hole_hi - hole_lo) / FS_PAGE_SIZE));
}

/* The eventfd is written only once it is known to be ours: 8 bytes into a file the
 * program put at its number would be a write into the program's data. */
void fs_runtime_wake(fs_runtime *rt)
{
	fs_runtime_check_fds(rt);
	uint64_t one = 1;
	ssize_t unused = write(rt->wakefd, &one, sizeof(one));
	(void)unused;
}

/* ---- commands ------------------------------------------------------------------ */

/* nowait: FS_EAGAIN instead of posting once a fork's prepare has begun (fork_seq odd;
 * it sets that under cmd_mu, and its pager runs what was posted before, so a command
 * posted here is never left waiting for a frozen pager). */
static int post_command(fs_runtime *rt, uint64_t page, uint64_t npages, int nowait)
{
	pthread_mutex_lock(&rt->cmd_mu);
	if (nowait && (atomic_load(&rt->fork_seq) & 1)) {
		pthread_mutex_unlock(&rt->cmd_mu);
		return FS_EAGAIN;
	}
	while (rt->n_cmds == FS_CMD_MAX)
		pthread_cond_wait(&rt->cmd_cv, &rt->cmd_mu);
	rt->cmds[rt->n_cmds++] = (struct fs_cmd){ page, npages };
	uint64_t mine = ++rt->cmd_submitted;
	atomic_store(&rt->cmd_pending, 1);
	pthread_mutex_unlock(&rt->cmd_mu);
	fs_runtime_wake(rt);
	pthread_mutex_lock(&rt->cmd_mu);
	while (rt->cmd_done < mine)
		pthread_cond_wait(&rt->cmd_cv, &rt->cmd_mu);
	pthread_mutex_unlock(&rt->cmd_mu);
	return FS_OK;
}

static int range_pages(fs_runtime *rt, void *addr, size_t bytes, uint64_t *page, uint64_t *n)
{
	uintptr_t a = (uintptr_t)addr;
	if (!rt || !fs_contains(rt, addr) || a % FS_PAGE_SIZE || bytes == 0)
		return FS_EINVAL;
	*page = (a - (uintptr_t)rt->app) / FS_PAGE_SIZE;
	*n = (bytes + FS_PAGE_SIZE - 1) / FS_PAGE_SIZE;
	if (*n > rt->npages - *page)
		return FS_ERANGE;
	return FS_OK;
}

static int discard(fs_runtime *rt, void *addr, size_t bytes, int nowait)
{
	uint64_t page, n;
	int rc = range_pages(rt, addr, bytes, &page, &n);
	if (rc)
		return rc;
	return post_command(rt, page, n, nowait);
}

int fs_discard(fs_runtime *rt, void *addr, size_t bytes)
{
	return discard(rt, addr, bytes, 0);
}

int fs_discard_nowait(fs_runtime *rt, void *addr, size_t bytes)
{
	return discard(rt, addr, bytes, 1);
}

/* The allocator's lock is held across the discard, so a fork's prepare (which takes
 * it after making fork_seq odd) cannot come between the discard and the release: a
 * nowait free either gives up before changing anything or completes. */
static int free_range(fs_runtime *rt, void *addr, size_t bytes, int nowait)
{
	uint64_t page, n;
	int rc = range_pages(rt, addr, bytes, &page, &n);
	if (rc)
		return rc;
	if ((rc = fs_arena_lock(rt, nowait)))
		return rc;
	if ((rc = post_command(rt, page, n, nowait)) == FS_OK)
		fs_arena_release_locked(rt, page, n);
	pthread_mutex_unlock(&rt->alloc_mu);
	return rc;
}

int fs_free(fs_runtime *rt, void *addr, size_t bytes)
{
	return free_range(rt, addr, bytes, 0);
}

int fs_free_nowait(fs_runtime *rt, void *addr, size_t bytes)
{
	return free_range(rt, addr, bytes, 1);
}

/* Close the trace being recorded, if any: FS_OK, or an error (said) when the trace
 * is incomplete. */
static int close_trace(fs_runtime *rt)
{
	int rc = FS_OK;
	pthread_mutex_lock(&rt->trace_mu);
	if (rt->trace) {
		rc = fs_trace_close(rt->trace);
		rt->trace = NULL;
		if (rc || rt->trace_error) {
			fs_log(0, "the trace %s is incomplete: writing it failed", rt->cfg.record);
			rc = rc ? rc : FS_EIO;
		}
	}
	pthread_mutex_unlock(&rt->trace_mu);
	return rc;
}

int fs_runtime_report(fs_runtime *rt, FILE *summary)
{
	int rc = close_trace(rt);
	if (rt->report) {
		/* Under `farsight run`: it prints the summary and writes the JSON from the
		 * report block, whatever way the program ends; here only the trace is
		 * closed and the last numbers published. */
		fs_report_publish(rt, 1);
		return rc;
	}
	if (rt->pol->ops->status) {
		char msg[512] = "";
		if (rt->pol->ops->status(rt->pol, msg, sizeof(msg))) {
			fs_log(0, "prefetcher %s: %s", rt->pol->ops->name, msg);
			rc = rc ? rc : FS_EINVAL;
		}
	}
	fs_stats s;
	fs_stats_get(rt, &s);
	if (summary && !rt->cfg.quiet)
		fs_stats_print(&s, &rt->cfg, summary);
	if (rt->cfg.stats_json[0]) {
		int jrc = fs_stats_write_json(&s, &rt->cfg, rt->cfg.stats_json);
		if (jrc) {
			fs_log(0, "cannot write the statistics to %s: %s", rt->cfg.stats_json,
			       strerror(errno));
			rc = rc ? rc : jrc;
		}
	}
	return rc;
}
