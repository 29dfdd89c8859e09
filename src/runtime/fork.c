/*
 * fork.c - fork without exec: the child gets its own copy-on-write view of far memory.
 *
 * The arena is a memfd mapped MAP_SHARED, so the kernel's copy-on-write does not cover
 * it, and userfaultfd does not follow fork.  The arena mappings are MADV_DONTFORK: a
 * child starts without them, and the runtime gives it its own arena instead:
 *
 *   prepare (parent, the forking thread; fs_fork_prepare): create the child's arena
 *     memfd, a shared status byte per page and a close-on-exec pipe, then freeze the
 *     pager: it lands every read in flight, marks every page that is local now OWED in
 *     the status map (the child will want it), write-protects the dirty mapped pages
 *     (clean ones are mapped write-protected already), and waits.  With the pager
 *     frozen no page changes until the fork has happened: a thread that writes a
 *     write-protected page, or faults, waits for it.
 *   child (fs_fork_child, the first thing the shim's atfork child handler does): maps
 *     its memfd where the arena was, opens its own userfaultfd and starts its own
 *     pager, with its own budget and statistics.  Its page states are the parent's at
 *     the freeze, every local page now CACHED (in the child's cache but not mapped);
 *     the backend's pages are its own copy (the mem backend's store is private memory,
 *     which fork copies on write).  The first use of an inherited page (mapping it,
 *     writing it back, dropping it) takes it: OWED -> TAKING, pread from the parent's
 *     memfd (the descriptor is inherited) into its own, -> DONE.
 *   parent (fs_fork_parent): the pager adds the child to its list and goes on.  Before
 *     it changes or drops a page OWED to a child (a write fault, a writable mapping,
 *     an eviction, a discard), it copies the page into that child's memfd first: OWED
 *     -> COPYING, pwrite, -> DONE (fs_fork_copy_out).  A page a child is TAKING is
 *     waited for.  So the parent's memory is never changed by the child, and the child
 *     sees the parent's memory as it was at the fork.
 *   The child's end of the pipe closes when it execs or exits; the parent's pager sees
 *     the hang-up and stops owing it anything.  A child that execs at once costs the
 *     parent its memfd and a scan of the page states, not a copy of its memory.
 *
 * Nested forks: a child that forks takes every page it still owes from its parent
 * first, so the grandchild's view is wholly in the child's memfd, and lets its parent
 * go.  What cannot be supported (no write-protect on shmem, a backend that cannot give
 * the child its own far pages, too many children at once) leaves the child without
 * far memory: it keeps running, and if it touches far memory it is stopped with a
 * message saying why (the shim's SIGSEGV handler), never handed another process's
 * pages.
 */
#include "runtime/runtime.h"
#include "runtime/report.h"
#include "common/fds.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <time.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

enum { ST_NONE = 0, ST_OWED = 1, ST_TAKING = 2, ST_COPYING = 3, ST_DONE = 4 };

static _Atomic uint8_t *status_map(uint64_t npages)
{
	void *p = fs_sys_mmap(NULL, npages, PROT_READ | PROT_WRITE,
			      MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

static void let_parent_go(fs_runtime *rt);

/* One turn of a wait on a page state the other process must change (it is copying or
 * taking that page right now, a matter of microseconds).  The first turns yield; then
 * the wait sleeps, 10 us longer each turn up to 1 ms: under cpus=auto the two pagers
 * share one CPU with the programs, and a waiter that only yields can keep the one it
 * waits for off that CPU.  The caller checks every FORK_CHECK_EVERY turns past the
 * first FORK_SPIN whether the other side is gone (it never finishes then). */
#define FORK_SPIN 64
#define FORK_CHECK_EVERY 16
static void fork_wait(unsigned turn)
{
	if (turn < FORK_SPIN) {
		sched_yield();
		return;
	}
	unsigned us = 10 * FS_MIN(turn - FORK_SPIN + 1, 100u);
	struct timespec ts = { 0, (long)us * 1000 };
	nanosleep(&ts, NULL);
}

static int fork_check(unsigned turn)
{
	return turn >= FORK_SPIN && (turn - FORK_SPIN) % FORK_CHECK_EVERY == 0;
}

/* ---- parent side ----------------------------------------------------------------- */

static void release_child(fs_runtime *rt, int i)
{
	struct fs_fork_child *c = &rt->children[i];
	fs_sys_munmap((void *)c->status, rt->npages);
	fs_fd_close(c->memfd);
	fs_fd_close(c->pipe_r);
	rt->children[i] = rt->children[--rt->n_children];
}

/* The child's end of its hang-up pipe is closed: it exec'd or exited (however: a
 * signal too), or forked and let us go. */
static int child_gone(const struct fs_fork_child *c)
{
	struct pollfd p = { c->pipe_r, POLLIN, 0 };
	return poll(&p, 1, 0) > 0 && (p.revents & (POLLHUP | POLLIN | POLLERR));
}

void fs_fork_reap(fs_runtime *rt)
{
	for (int i = 0; i < rt->n_children;)
		if (child_gone(&rt->children[i]))
			release_child(rt, i);
		else
			i++;
}

void fs_fork_copy_out_slow(fs_runtime *rt, uint64_t pg)
{
	for (int i = 0; i < rt->n_children; i++) {
		struct fs_fork_child *c = &rt->children[i];
		_Atomic uint8_t *st = &c->status[pg];
		for (unsigned turn = 0;; turn++) {
			uint8_t v = atomic_load_explicit(st, memory_order_acquire);
			if (v == ST_OWED) {
				if (!atomic_compare_exchange_strong(st, &v, ST_COPYING))
					continue;
				const char *src = rt->alias + pg * FS_PAGE_SIZE;
				off_t off = (off_t)(pg * FS_PAGE_SIZE);
				size_t done = 0;
				while (done < FS_PAGE_SIZE) {
					ssize_t w = pwrite(c->memfd, src + done, FS_PAGE_SIZE - done,
							   off + (off_t)done);
					if (w <= 0 && errno != EINTR)
						fs_pager_fatal(rt, "copying page %llu for forked child %d: %s",
							       (unsigned long long)pg, (int)c->pid,
							       strerror(errno));
					if (w > 0)
						done += (size_t)w;
				}
				atomic_store_explicit(st, ST_DONE, memory_order_release);
				break;
			}
			if (v != ST_TAKING)
				break; /* not owed, or the child has its own copy */
			/* The child is reading it from our memfd right now: wait, unless it
			 * exec'd or died meanwhile (its pager then never finishes). */
			if (fork_check(turn) && child_gone(c)) {
				release_child(rt, i--);
				break;
			}
			fork_wait(turn);
		}
	}
}

/* Is the thread that forks blocked on a userfaultfd fault?  The pager is frozen until
 * that thread's fork() is done, so such a fault is never served: a deadlock, which the
 * frozen pager turns into a message and status 70 instead of a hang that no signal
 * ends (the forking thread blocks them all).  Between our prepare handler and the
 * clone only the C library runs (the NSS state it reads there is kept local, see the
 * shim's keep_libc_fork_state_local); this catches what another C library may touch.
 * The kernel names the wait "handle_userfault" in wchan; where it does not tell, this
 * finds nothing and the wait is as before. */
#define FORK_LOOK_NS 50000000L /* how often the frozen pager looks: 50 ms */
static int forker_waits_on_us(pid_t tid)
{
	char path[64], wchan[64];
	snprintf(path, sizeof(path), "/proc/self/task/%d/wchan", (int)tid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	ssize_t n = read(fd, wchan, sizeof(wchan) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	wchan[n] = 0;
	return strcmp(wchan, "handle_userfault") == 0;
}

/* The pager, frozen for a fork (fs_fork_prepare posted it): land every read, mark the
 * local pages OWED, write-protect the dirty ones, wait for the fork to happen, then
 * keep the child. */
void fs_fork_serve(fs_runtime *rt)
{
	struct fs_fork_req *q = &rt->fork;
	/* Commands posted before the prepare began run now: their threads may hold
	 * locks the fork is about to take (jemalloc's, around a purge hook). */
	fs_pager_run_commands(rt);
	fs_fork_reap(rt);
	if (rt->inherit_status) {
		/* A child forking: take what it still owes from its parent and let it go,
		 * so the grandchild's view is all in our memfd. */
		fs_fork_take_all(rt);
		let_parent_go(rt);
	}
	uint64_t bump = atomic_load(&rt->bump);
	for (uint64_t pg = 0; pg < bump; pg++) {
		uint8_t s = fs_page_state(&rt->pages, pg);
		if (!ps_is_local(s))
			continue;
		atomic_store_explicit(&q->status[pg], ST_OWED, memory_order_relaxed);
		if ((s & PS_MASK) != PS_DIRTY)
			continue;
		uint64_t e = pg + 1;
		while (e < bump && (fs_page_state(&rt->pages, e) & PS_MASK) == PS_DIRTY) {
			atomic_store_explicit(&q->status[e], ST_OWED, memory_order_relaxed);
			e++;
		}
		/* Kernel work only: the pages stay DIRTY, and a write now faults, which
		 * fs_page_written answers (copying the page out first, pageops.c). */
		rt->pages.ops->protect(rt->pages.ctx, pg, e - pg);
		pg = e - 1;
	}
	pthread_mutex_lock(&q->mu);
	q->phase = FS_FORK_FROZEN;
	pthread_cond_broadcast(&q->cv);
	for (unsigned looks = 0; q->phase == FS_FORK_FROZEN;) {
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until); /* the condition's clock */
		until.tv_nsec += FORK_LOOK_NS;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		if (pthread_cond_timedwait(&q->cv, &q->mu, &until) == ETIMEDOUT &&
		    q->phase == FS_FORK_FROZEN)
			looks = forker_waits_on_us(q->tid) ? looks + 1 : 0;
		if (looks == 2)
			fs_pager_fatal(rt, "fork() touched far memory after farsight's fork handler "
					   "froze the pager (thread %d waits for a far page inside the "
					   "C library's fork, which only the frozen pager could serve): "
					   "this C library is not supported by farsight's fork; run the "
					   "program with a larger --local-threshold, or without fork",
				       (int)q->tid);
	}
	if (q->phase == FS_FORK_KEEP && rt->n_children < FS_FORK_MAX) {
		rt->children[rt->n_children++] = (struct fs_fork_child){
			.pid = q->pid, .memfd = q->memfd, .pipe_r = q->pipe_r, .status = q->status
		};
	} else {
		if (q->status)
			fs_sys_munmap((void *)q->status, rt->npages);
		if (q->memfd >= 0)
			fs_fd_close(q->memfd);
		if (q->pipe_r >= 0)
			fs_fd_close(q->pipe_r);
	}
	q->phase = FS_FORK_IDLE;
	atomic_store(&rt->fork_pending, 0);
	pthread_cond_broadcast(&q->cv);
	pthread_mutex_unlock(&q->mu);
}

static const char *unsupported(fs_runtime *rt)
{
	if (!rt->have_wp)
		return "this kernel lacks write-protect on shmem (Linux 6.5 or newer), which "
		       "farsight needs to give a forked child its own copy of far memory";
	if (!rt->be->ops->fork_child)
		return "this far-memory backend cannot give a forked child its own copy of the "
		       "far pages";
	if (rt->n_children >= FS_FORK_MAX)
		return "too many forked children own copies of far memory at once";
	return NULL;
}

int fs_fork_prepare(fs_runtime *rt)
{
	struct fs_fork_req *q = &rt->fork;
	/* From here on the jemalloc hooks give up rather than wait (runtime.h), set
	 * under cmd_mu so no such hook's command can be posted after our pager's last
	 * look at the queue (fs_fork_serve). */
	pthread_mutex_lock(&rt->cmd_mu);
	atomic_fetch_add(&rt->fork_seq, 1);
	pthread_mutex_unlock(&rt->cmd_mu);
	/* One fork at a time: two threads forking at once would share this request.  The
	 * allocator's lock also keeps its free list whole for the child. */
	pthread_mutex_lock(&rt->alloc_mu);
	q->sig_blocked = 0;
	q->tid = (pid_t)syscall(SYS_gettid);
	q->memfd = q->pipe_r = q->pipe_w = -1;
	q->status = NULL;
	q->why = unsupported(rt);
	if (!q->why) {
		int p[2] = { -1, -1 };
		q->memfd = fs_fd_keep(memfd_create("farsight-arena", MFD_CLOEXEC), "forked child's arena memfd");
		q->status = status_map(rt->npages);
		if (q->memfd < 0 || ftruncate(q->memfd, (off_t)(rt->npages * FS_PAGE_SIZE)) ||
		    !q->status || pipe2(p, O_CLOEXEC)) {
			q->why = "the forked child's far memory could not be set up (out of memory "
				 "or descriptors)";
			if (q->status)
				fs_sys_munmap((void *)q->status, rt->npages);
			if (q->memfd >= 0)
				fs_fd_close(q->memfd);
			q->status = NULL;
			q->memfd = -1;
		} else {
			q->pipe_r = fs_fd_keep(p[0], "forked child's hang-up pipe");
			q->pipe_w = fs_fd_keep(p[1], "forked child's hang-up pipe");
		}
	}
	if (q->why)
		return 0; /* the child runs without far memory; nothing to freeze */
	/* No signal handler may run on this thread until the fork is done: one that
	 * touches far memory would wait for the pager, which waits for this thread. */
	sigset_t all;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &q->sigmask);
	q->sig_blocked = 1;
	pthread_mutex_lock(&q->mu);
	q->phase = FS_FORK_WANTED;
	atomic_store(&rt->fork_pending, 1);
	fs_runtime_wake(rt);
	while (q->phase != FS_FORK_FROZEN)
		pthread_cond_wait(&q->cv, &q->mu);
	pthread_mutex_unlock(&q->mu);
	return 0;
}

/* The signals fs_fork_prepare blocked are delivered now (parent) or never were
 * pending (a child starts with none). */
static void restore_signals(struct fs_fork_req *q)
{
	if (q->sig_blocked)
		pthread_sigmask(SIG_SETMASK, &q->sigmask, NULL);
	q->sig_blocked = 0;
}

void fs_fork_parent(fs_runtime *rt, pid_t child)
{
	struct fs_fork_req *q = &rt->fork;
	pthread_mutex_unlock(&rt->alloc_mu);
	if (q->why) {
		atomic_fetch_add(&rt->fork_seq, 1);
		return;
	}
	if (q->pipe_w >= 0)
		fs_fd_close(q->pipe_w);
	pthread_mutex_lock(&q->mu);
	/* Kept even if the fork failed: no child holds the pipe then, and the first reap
	 * lets it go. */
	q->pid = child;
	q->phase = FS_FORK_KEEP;
	pthread_cond_broadcast(&q->cv);
	while (q->phase != FS_FORK_IDLE)
		pthread_cond_wait(&q->cv, &q->mu);
	pthread_mutex_unlock(&q->mu);
	atomic_fetch_add(&rt->fork_seq, 1);
	restore_signals(q);
}

int fs_fork_wait(fs_runtime *rt, unsigned seq)
{
	unsigned now = atomic_load(&rt->fork_seq);
	if (now == seq && !(now & 1))
		return 0;
	struct timespec ts = { 0, 50000 };
	while (atomic_load(&rt->fork_seq) & 1)
		nanosleep(&ts, NULL);
	return 1;
}

/* ---- child side ------------------------------------------------------------------ */

/* Make the content of an inherited page ours: from the parent's memfd (or wait while
 * the parent copies it into ours).  data = 0: the page is being dropped, only stop
 * the parent from copying it. */
/* The parent no longer holds the read end of our hang-up pipe: it exited or exec'd
 * (its pager stopped wherever it was, perhaps half-way through copying a page to us).
 * It cannot have let us go while we wait: it does that when we close our end.  A parent that died is often still there as a zombie, and one that
 * exec'd is alive, so kill(pid, 0) cannot tell; the pipe can (POLLERR on a write end
 * without readers). */
static int parent_gone(const fs_runtime *rt)
{
	struct pollfd p = { rt->inherit_pipe_w, 0, 0 };
	return poll(&p, 1, 0) > 0 && (p.revents & (POLLERR | POLLHUP | POLLNVAL));
}

void fs_fork_take_slow(fs_runtime *rt, uint64_t pg, int data)
{
	_Atomic uint8_t *st = &rt->inherit_status[pg];
	for (unsigned turn = 0;; turn++) {
		uint8_t v = atomic_load_explicit(st, memory_order_acquire);
		if (v == ST_NONE || v == ST_DONE)
			return;
		if (v == ST_OWED) {
			if (!atomic_compare_exchange_strong(st, &v, data ? ST_TAKING : ST_DONE))
				continue;
			if (!data)
				return;
			break;
		}
		/* COPYING: the parent is putting it into our memfd.  If the parent exited
		 * or exec'd half-way, its memfd (we hold it open) still has the page (it
		 * drops a page only after copying it out): read it. */
		if (fork_check(turn) && parent_gone(rt)) {
			atomic_store(st, ST_TAKING);
			break;
		}
		fork_wait(turn);
	}
	char *dst = rt->alias + pg * FS_PAGE_SIZE;
	off_t off = (off_t)(pg * FS_PAGE_SIZE);
	size_t done = 0;
	while (done < FS_PAGE_SIZE) {
		ssize_t r = pread(rt->inherit_fd, dst + done, FS_PAGE_SIZE - done, off + (off_t)done);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			fs_pager_fatal(rt, "reading inherited page %llu from the parent: %s",
				       (unsigned long long)pg, r ? strerror(errno) : "end of file");
		done += (size_t)r;
	}
	atomic_store_explicit(st, ST_DONE, memory_order_release);
}

void fs_fork_take_all(fs_runtime *rt)
{
	if (!rt->inherit_status)
		return;
	uint64_t bump = atomic_load(&rt->bump);
	for (uint64_t pg = 0; pg < bump; pg++)
		if (atomic_load_explicit(&rt->inherit_status[pg], memory_order_relaxed) == ST_OWED)
			fs_fork_take_slow(rt, pg, 1);
}

/* Drop the link to the parent: every inherited page is ours now. */
static void let_parent_go(fs_runtime *rt)
{
	if (!rt->inherit_status)
		return;
	fs_sys_munmap((void *)rt->inherit_status, rt->npages);
	rt->inherit_status = NULL;
	fs_fd_close(rt->inherit_fd);
	fs_fd_close(rt->inherit_pipe_w);
	rt->inherit_fd = rt->inherit_pipe_w = -1;
}

static int map_arena(fs_runtime *rt, char *err, size_t errlen)
{
	size_t size = rt->npages * FS_PAGE_SIZE;
	void *app = fs_sys_mmap(rt->app, size, PROT_READ | PROT_WRITE,
				MAP_SHARED | MAP_NORESERVE | MAP_FIXED_NOREPLACE, rt->memfd, 0);
	if (app != rt->app) {
		fs_errf(err, errlen, "cannot map the child's arena at %p: %s", (void *)rt->app,
			strerror(errno));
		return FS_ENOMEM;
	}
	void *alias = fs_sys_mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE,
				  rt->memfd, 0);
	if (alias == MAP_FAILED) {
		fs_errf(err, errlen, "cannot map the child's arena alias: %s", strerror(errno));
		return FS_ENOMEM;
	}
	rt->alias = alias;
	fs_sys_madvise(rt->app, size, MADV_DONTFORK);
	fs_sys_madvise(rt->alias, size, MADV_DONTFORK);
	return FS_OK;
}

static int child_setup(fs_runtime *rt, char *err, size_t errlen)
{
	struct fs_fork_req *q = &rt->fork;
	/* Locks other threads of the parent held at the fork: none of those threads
	 * exist here.  The allocator's was held by the forking thread, so it is
	 * consistent. */
	pthread_mutex_init(&rt->cmd_mu, NULL);
	pthread_cond_init(&rt->cmd_cv, NULL);
	pthread_mutex_init(&rt->alloc_mu, NULL);
	pthread_mutex_init(&rt->trace_mu, NULL);
	pthread_mutex_init(&q->mu, NULL);
	pthread_cond_init(&q->cv, NULL);
	q->phase = FS_FORK_IDLE;
	atomic_store(&rt->fork_pending, 0);
	rt->n_cmds = 0;
	rt->cmd_submitted = rt->cmd_done = 0;
	atomic_store(&rt->cmd_pending, 0);
	/* The parent's other children are not ours. */
	for (int i = 0; i < rt->n_children; i++) {
		fs_sys_munmap((void *)rt->children[i].status, rt->npages);
		fs_fd_close(rt->children[i].memfd);
		fs_fd_close(rt->children[i].pipe_r);
	}
	rt->n_children = 0;
	if (q->why) {
		/* Nor is our parent's link to its own parent ours (it forked us without
		 * far memory, before taking everything): holding its hang-up pipe would
		 * keep the grandparent owing our parent pages for as long as we live. */
		let_parent_go(rt);
		fs_errf(err, errlen, "%s", q->why);
		return FS_ENOSYS;
	}
	fs_fd_close(q->pipe_r);
	rt->inherit_fd = rt->memfd;
	rt->inherit_pipe_w = q->pipe_w;
	rt->inherit_status = q->status;
	rt->memfd = q->memfd;
	rt->be->arena_fd = rt->memfd; /* reads land in our own arena from now on */
	q->status = NULL;
	q->memfd = q->pipe_r = q->pipe_w = -1;

	int rc = map_arena(rt, err, errlen);
	if (rc)
		return rc;
	fs_fd_close(rt->uffd);
	fs_fd_close(rt->uffd_shadow);
	fs_fd_close(rt->wakefd);
	rt->uffd = rt->uffd_shadow = rt->wakefd = -1;
	int wp = 1;
	if ((rc = fs_runtime_open_uffd(rt, &wp, err, errlen)))
		return rc;
	if (!wp) {
		fs_errf(err, errlen, "the child's userfaultfd has no write-protect on shmem");
		return FS_ENOSYS;
	}
	rt->wakefd = fs_fd_keep(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK), "wake-up eventfd");
	if (rt->wakefd < 0) {
		fs_errf(err, errlen, "eventfd: %s", strerror(errno));
		return FS_ENOMEM;
	}
	if ((rc = rt->be->ops->fork_child(rt->be, err, errlen)))
		return rc;

	/* Every page that was local in the parent is in our cache now, unmapped; its
	 * content comes from the parent on first use. */
	uint64_t bump = atomic_load(&rt->bump);
	fs_pages_inherit(&rt->pages, bump);
	uint64_t local = rt->pages.local;
	rt->n_waiters = rt->inflight_reads = 0;
	rt->n_tids = 0;

	/* Its own statistics, reported (if at all) as a child's. */
	memset(&rt->c, 0, sizeof(rt->c));
	memset(&rt->lat_demand, 0, sizeof(rt->lat_demand));
	memset(&rt->lat_hit, 0, sizeof(rt->lat_hit));
	atomic_store(&rt->c.page.peak_pages, local);
	rt->pid = getpid();
	rt->start_ns = fs_now_ns();
	rt->trace = NULL; /* the parent's: its buffered bytes must not be written twice */
	rt->cfg.record[0] = 0;
	rt->cfg.stats_json[0] = 0;
	if (!rt->cfg.stats_children)
		rt->cfg.quiet = 1;
	atomic_store(&rt->stop, 0);
	if (rt->report) {
		rt->report_root = 0;
		atomic_store(&rt->report_final, 0);
		rt->report_last_ns = rt->report_seen = 0;
		fs_report_attach_forked(rt);
	}
	if (fs_pager_start(rt)) {
		fs_errf(err, errlen, "cannot start the forked child's pager thread");
		return FS_ENOMEM;
	}
	return FS_OK;
}

int fs_fork_child(fs_runtime *rt, char *err, size_t errlen)
{
	atomic_fetch_add(&rt->fork_seq, 1);
	int rc = child_setup(rt, err, errlen);
	restore_signals(&rt->fork);
	return rc;
}

