/*
 * preload.c - libfarsight-preload.so: start the runtime inside an unmodified program.
 *
 * `farsight run` sets FARSIGHT_* variables and LD_PRELOAD, then execs the program.  The
 * constructor below reads the settings, starts the runtime (arena, userfaultfd, pager
 * thread), creates the far jemalloc arenas (malloc.c) and from then on the program's
 * heap and private anonymous mappings (mmap.c) live in far memory.  Everything the
 * dynamic loader and libc allocate before this constructor runs stays local.
 *
 * Exit: an atexit handler prints the summary and writes the stats JSON.  It never stops
 * the runtime: other threads may still touch far memory while the process exits, and
 * the kernel tears everything down anyway.  Only the root process reports:
 * FARSIGHT_ROOT_PID names it (`farsight run` sets it; if it is missing, the first
 * preloaded process sets it to itself), and programs it execs run under far memory too
 * (they inherit LD_PRELOAD) but print nothing, record nothing and write no JSON, unless
 * FARSIGHT_STATS_CHILDREN=1 (summary only: the JSON file and trace are the root's).
 *
 * Fork: the atfork handlers below hand over to src/runtime/fork.c, which gives a child
 * forked without exec its own copy-on-write view of far memory.  A child it cannot
 * give one (see fork.c) runs with local memory only, and a SIGSEGV handler turns its
 * touch of the parent's (absent, MADV_DONTFORK) arena into a clear message.
 */
#include "preload/shim.h"
#include "common/fds.h"
#include "runtime/runtime.h"
#include "runtime/report.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

struct fs_shim fs_shim;

static struct sigaction saved_segv, saved_bus;
/* A copy of stderr taken at start: many programs (every coreutils tool) close stderr
 * in their own atexit handler, which runs before ours. */
static int report_fd = -1;

void shim_say(const char *a, const char *b, const char *c)
{
	char line[1024];
	int n = snprintf(line, sizeof(line), "farsight: %s%s%s\n", a, b ? b : "", c ? c : "");
	if (n > (int)sizeof(line) - 1)
		n = (int)sizeof(line) - 1;
	ssize_t unused = write(2, line, (size_t)n);
	(void)unused;
}

void shim_far_full(size_t bytes)
{
	static _Atomic int said;
	fs_report_local(fs_shim.rt, FS_LOCAL_FULL, bytes);
	if (atomic_exchange(&said, 1))
		return;
	char what[160];
	fs_human_bytes(what, sizeof(what), fs_shim.size);
	strcat(what, " (--arena-size)");
	shim_say("far memory is full: its arena of ", what,
		 " has no room left, so the program's new memory is local from here on, "
		 "outside the --local-mem budget; run with a larger --arena-size");
}

/* ---- fork ----------------------------------------------------------------------- */

/* Why this forked child has no far memory of its own (fork.c could not give it one). */
static char child_why[300];

static void child_touched(const void *addr)
{
	char what[400];
	snprintf(what, sizeof(what), "%p, but it has no far memory of its own: %s", addr,
		 child_why);
	shim_say("this process was forked and touched the parent's far memory at ", what,
		 "; the child is stopped (exit status 1), the parent is not affected");
	syscall(SYS_exit_group, 1);
}

static void on_fault(int sig, siginfo_t *si, void *uc)
{
	if (fs_shim.forked_child && shim_in_arena(si->si_addr))
		child_touched(si->si_addr);
	/* Not ours: put the program's handler (or the default) back; the faulting
	 * instruction runs again and meets it. */
	sigaction(sig, sig == SIGSEGV ? &saved_segv : &saved_bus, NULL);
}

static void install_fault_handler(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_fault;
	sa.sa_flags = SA_SIGINFO | SA_NODEFER;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGSEGV, &sa, &saved_segv);
	sigaction(SIGBUS, &sa, &saved_bus);
}

/* glibc's fork() reads and locks its NSS state (the parsed nsswitch.conf: the
 * __nss_database_fork_prepare_parent step) after the last atfork prepare handler, ours,
 * has frozen the pager, and the child writes it back before any child handler runs,
 * when its far memory is not yet mapped.  The state is malloc'd the first time any NSS
 * function runs: in far memory, if that happens after this constructor, and the fork
 * then waits forever for a pager that waits for the fork.  bash does exactly that when
 * SHELL is not in its environment (it asks getpwuid for the login shell), so every
 * command substitution of such a shell hung.  One cheap NSS call here, while every
 * allocation is still local, makes glibc allocate that state in local memory for good
 * (it is allocated once and never moved).  The protocols database is read from local
 * files under every usual nsswitch.conf: no name service is asked anything. */
static void keep_libc_fork_state_local(void)
{
	setprotoent(0);
	endprotoent();
}

/* Fork without exec (runtime/fork.c): prepare freezes the pager and sets up the
 * child's arena, the child starts its own runtime on it, the parent lets the pager go
 * on.  These handlers are registered after jemalloc's, so this prepare runs before
 * jemalloc locks its arenas (the pager may still need them), and jemalloc's child
 * handler runs before ours, touching only its metadata, which is local. */
static void atfork_prepare(void)
{
	shim_mmap_atfork_prepare();
	if (fs_shim.rt && !fs_shim.forked_child) {
		fs_shim_busy++;
		fs_fork_prepare(fs_shim.rt);
		fs_shim_busy--;
	}
}

static void atfork_parent(void)
{
	if (fs_shim.rt && !fs_shim.forked_child) {
		fs_shim_busy++;
		fs_fork_parent(fs_shim.rt, 0);
		fs_shim_busy--;
	}
	shim_mmap_atfork_parent();
}

static void atfork_child(void)
{
	shim_mmap_atfork_child();
	if (!fs_shim.rt || fs_shim.forked_child)
		return; /* a child of a child without far memory: the same */
	fs_shim_busy++;
	char err[256];
	if (fs_fork_child(fs_shim.rt, err, sizeof(err)) == 0) {
		fs_shim.pid = getpid();
	} else {
		snprintf(child_why, sizeof(child_why), "%s", err);
		fs_shim.forked_child = 1;
		install_fault_handler();
	}
	fs_shim_busy--;
}

/* A forked child whose exec arguments are in far memory: execve would fail with
 * EFAULT, an error that names no cause.  Say what happened instead. */
static void check_exec_args(const char *path, char *const argv[], char *const envp[])
{
	if (!fs_shim.forked_child)
		return;
	if (shim_in_arena(path))
		child_touched(path);
	char *const *lists[2] = { argv, envp };
	for (int l = 0; l < 2; l++) {
		if (!lists[l])
			continue;
		if (shim_in_arena(lists[l]))
			child_touched(lists[l]);
		for (size_t i = 0; lists[l][i]; i++)
			if (shim_in_arena(lists[l][i]))
				child_touched(lists[l][i]);
	}
}

/* _exit and _Exit skip atexit handlers (Python's os._exit, forked children, many
 * servers): the last numbers are published and the trace closed here too. */
static void shim_exit(void);

__attribute__((noreturn)) static void exit_now(int status)
{
	shim_exit();
	for (;;)
		syscall(SYS_exit_group, status);
}

void _exit(int status)
{
	exit_now(status);
}

void _Exit(int status)
{
	exit_now(status);
}

int execve(const char *path, char *const argv[], char *const envp[])
{
	check_exec_args(path, argv, envp);
	return (int)syscall(SYS_execve, path, argv, envp);
}

/* setenv and friends resize `environ` with malloc.  Keeping the environment local
 * means a forked child can still exec with it (and the pager never owns it). */
#define LOCAL_CALL(type, name, params, args)                                             \
	type name params                                                                 \
	{                                                                                \
		static type(*real) params;                                               \
		fs_shim_busy++;                                                          \
		if (!real)                                                               \
			real = (type(*) params)dlsym(RTLD_NEXT, #name);                  \
		type r = real ? real args : -1;                                          \
		fs_shim_busy--;                                                          \
		return r;                                                                \
	}
LOCAL_CALL(int, setenv, (const char *n, const char *v, int o), (n, v, o))
LOCAL_CALL(int, unsetenv, (const char *n), (n))
LOCAL_CALL(int, putenv, (char *s), (s))
LOCAL_CALL(int, clearenv, (void), ())

/* ---- start and exit ------------------------------------------------------------- */

static int is_root_process(void)
{
	const char *r = getenv("FARSIGHT_ROOT_PID");
	pid_t me = getpid();
	if (!r || !*r) {
		char buf[32];
		snprintf(buf, sizeof(buf), "%d", (int)me);
		setenv("FARSIGHT_ROOT_PID", buf, 1);
		return 1;
	}
	return atol(r) == (long)me;
}

static void shim_exit(void)
{
	/* getpid: a vfork child (posix_spawn's, when exec fails) runs in our memory and
	 * must not report as us. */
	if (!fs_shim.rt || fs_shim.forked_child || getpid() != fs_shim.pid)
		return;
	fs_shim_busy++; /* the report's own allocations stay local */
	/* Close the trace, write the JSON and the summary (to our copy of stderr) from
	 * one snapshot: a second one would count the faults of writing the JSON.  Under
	 * `farsight run` the summary is its job (report_fd is -1 then). */
	fs_fd_forget(report_fd); /* fclose below closes it */
	FILE *f = report_fd >= 0 ? fdopen(report_fd, "w") : NULL;
	fs_runtime_report(fs_shim.rt, f);
	if (f)
		fclose(f);
	fs_shim_busy--;
}

__attribute__((constructor)) static void shim_start(void)
{
	fs_shim_busy++;
	shim_fds_init();
	keep_libc_fork_state_local();
	fs_config cfg;
	char err[512];
	if (fs_config_from_env(&cfg, err, sizeof(err))) {
		shim_say(err, NULL, NULL);
		_exit(2);
	}
	int root = is_root_process();
	if (!root) {
		/* The JSON file and the trace belong to the root process. */
		cfg.stats_json[0] = 0;
		cfg.record[0] = 0;
		if (!cfg.stats_children)
			cfg.quiet = 1;
	}
	fs_runtime *rt;
	int rc = fs_runtime_start(&cfg, &rt, err, sizeof(err));
	if (rc) {
		shim_say("cannot start far memory: ", err, NULL);
		_exit(1);
	}
	void *base;
	size_t size;
	fs_arena_range(rt, &base, &size);
	fs_shim.rt = rt;
	fs_shim.pid = getpid();
	fs_shim.local_threshold = cfg.local_threshold;
	fs_shim.quiet = (int)cfg.quiet;
	fs_shim.size = size;
	fs_shim.base = (uintptr_t)base;
	/* A forked child must not inherit the arena (see the top of this file). */
	if (syscall(SYS_madvise, base, size, MADV_DONTFORK))
		shim_say("cannot mark the arena MADV_DONTFORK: ", strerror(errno),
			 "; a forked child may corrupt far memory");
	if (shim_malloc_init(err, sizeof(err))) {
		shim_say(err, NULL, NULL);
		_exit(1);
	}
	if (pthread_atfork(atfork_prepare, atfork_parent, atfork_child) || atexit(shim_exit)) {
		shim_say("cannot register the fork and exit handlers", NULL, NULL);
		_exit(1);
	}
	fs_runtime_attach_report(rt, root);
	/* Kept out of the program's way, like the runtime's own (common/fds.h). */
	if (!cfg.quiet && !getenv("FARSIGHT_REPORT_FD"))
		report_fd = fs_fd_keep(fcntl(2, F_DUPFD_CLOEXEC, 0), "copy of stderr");
	atomic_store_explicit(&fs_shim.far_ready, 1, memory_order_release);
	fs_shim_busy--;
}
