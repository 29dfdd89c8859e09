/*
 * preload_fork.c - fork, exec and child processes under the preload shim (test helper).
 *
 * usage: preload_fork MODE
 *   spawn   fork+exec of /bin/echo (argv on the stack), system(), popen() and
 *           posix_spawn(), with a malloc'd heap of a few MiB live in the parent
 *           that must be intact afterwards; prints "fork ok" and exits 0
 *   touch   fork, then the child reads a malloc'd buffer; prints "child status N"
 *           (0: it read the parent's data) and exits 0 either way
 *   cow     fork without exec, copy-on-write: a buffer of MiB (argv[2], default 16)
 *           filled by the parent; KIDS children (argv[3], default 3) each write their
 *           own pattern over it while the parent writes its own, and each reads its own
 *           back; a second buffer nobody writes after the fork must read the same in
 *           all; one child forks a grandchild that must see that child's pattern, not
 *           the parent's.  Prints "cow ok" and exits 0, or says what differed.
 *   threads fork without exec from one thread FORKS times (argv[2], default 40) while
 *           THREADS others (argv[3], default 2) malloc, touch and free far blocks of
 *           64 KiB to 4 MiB (so jemalloc's extent hooks run during the forks), and a
 *           SIGCHLD handler writes to a far buffer; each child checks a far buffer
 *           and exits.  Prints "threads ok" and exits 0 (a deadlock hangs it).
 */
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static int heap_ok(unsigned char **blocks, int n, size_t size)
{
	for (int i = 0; i < n; i++)
		for (size_t j = 0; j < size; j++)
			if (blocks[i][j] != (unsigned char)(i * 31 + j))
				return 0;
	return 1;
}

static void fill(unsigned char *b, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i += 8)
		*(uint64_t *)(b + i) = (i * 0x9e3779b97f4a7c15ull) ^ ((uint64_t)seed << 56);
}

/* First byte offset where b differs from fill(seed), or -1. */
static long differs(const unsigned char *b, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i += 8)
		if (*(const uint64_t *)(b + i) != ((i * 0x9e3779b97f4a7c15ull) ^ ((uint64_t)seed << 56)))
			return (long)i;
	return -1;
}

static int cow(int mib, int kids)
{
	size_t n = (size_t)mib << 20;
	unsigned char *shared = malloc(n), *still = malloc(n);
	if (!shared || !still)
		return 2;
	fill(shared, n, 1);
	fill(still, n, 7);
	pid_t pids[64];
	int pfd[2];
	if (pipe(pfd))
		return 2;
	for (int k = 0; k < kids && k < 64; k++) {
		pids[k] = fork();
		if (pids[k] < 0)
			return 2;
		if (pids[k] == 0) {
			char c;
			/* Wait until the parent has overwritten the buffer: the child must
			 * still see what was there at the fork. */
			if (read(pfd[0], &c, 1) != 1)
				_exit(10);
			long d = differs(shared, n, 1);
			if (d >= 0) {
				fprintf(stderr, "child %d: inherited buffer differs at %ld\n", k, d);
				_exit(11);
			}
			fill(shared, n, 10 + k);
			if (k == 0) { /* a grandchild sees this child's data */
				pid_t g = fork();
				if (g == 0) {
					long e = differs(shared, n, 10);
					fill(shared, n, 99);
					_exit(e >= 0 ? 12 : differs(shared, n, 99) >= 0 ? 13 : 0);
				}
				int gs = 0;
				waitpid(g, &gs, 0);
				if (!WIFEXITED(gs) || WEXITSTATUS(gs)) {
					fprintf(stderr, "grandchild status %d\n", gs);
					_exit(14);
				}
			}
			if ((d = differs(shared, n, 10 + k)) >= 0) {
				fprintf(stderr, "child %d: own data differs at %ld\n", k, d);
				_exit(15);
			}
			if ((d = differs(still, n, 7)) >= 0) {
				fprintf(stderr, "child %d: untouched buffer differs at %ld\n", k, d);
				_exit(16);
			}
			_exit(0);
		}
	}
	fill(shared, n, 2);
	for (int k = 0; k < kids; k++)
		if (write(pfd[1], "g", 1) != 1)
			return 2;
	int bad = 0;
	for (int k = 0; k < kids; k++) {
		int st = 0;
		waitpid(pids[k], &st, 0);
		if (!WIFEXITED(st) || WEXITSTATUS(st)) {
			fprintf(stderr, "child %d: status %d\n", k, WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
			bad = 1;
		}
	}
	long d;
	if ((d = differs(shared, n, 2)) >= 0) {
		fprintf(stderr, "parent: own data differs at %ld\n", d);
		bad = 1;
	}
	if ((d = differs(still, n, 7)) >= 0) {
		fprintf(stderr, "parent: untouched buffer differs at %ld\n", d);
		bad = 1;
	}
	printf(bad ? "cow FAILED\n" : "cow ok\n");
	return bad;
}

static volatile int churn_stop;
static unsigned char *sig_buf;
static volatile unsigned sig_hits;

static void on_sigchld(int sig)
{
	(void)sig;
	sig_buf[(sig_hits++ % 256) * 4096]++; /* a handler that touches far memory */
}

static void *churn(void *arg)
{
	unsigned seed = (unsigned)(uintptr_t)arg;
	while (!churn_stop) {
		size_t n = (64u << 10) + (size_t)rand_r(&seed) % (4u << 20);
		unsigned char *p = malloc(n);
		if (!p)
			continue;
		for (size_t i = 0; i < n; i += 4096)
			p[i] = (unsigned char)i;
		free(p);
	}
	return NULL;
}

static int threads(int forks, int nthreads)
{
	size_t size = 4u << 20;
	unsigned char *buf = malloc(size);
	sig_buf = calloc(256, 4096);
	memset(buf, 7, size);
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_sigchld;
	sigaction(SIGCHLD, &sa, NULL);
	pthread_t t[8];
	nthreads = nthreads > 8 ? 8 : nthreads;
	for (int i = 0; i < nthreads; i++)
		pthread_create(&t[i], NULL, churn, (void *)(uintptr_t)(i + 1));
	int bad = 0;
	for (int i = 0; i < forks; i++) {
		pid_t pid = fork();
		if (pid == 0) {
			for (size_t j = 0; j < size; j += 4096)
				if (buf[j] != 7)
					_exit(3);
			_exit(0);
		}
		int st;
		while (waitpid(pid, &st, 0) < 0)
			;
		bad += !WIFEXITED(st) || WEXITSTATUS(st);
	}
	churn_stop = 1;
	for (int i = 0; i < nthreads; i++)
		pthread_join(t[i], NULL);
	printf(bad ? "threads FAILED: %d of %d children saw other data\n" : "threads ok\n", bad,
	       forks);
	return bad != 0;
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "spawn";
	enum { N = 64 };
	size_t size = 64 << 10;
	unsigned char *blocks[N];
	for (int i = 0; i < N; i++) {
		blocks[i] = malloc(size);
		for (size_t j = 0; j < size; j++)
			blocks[i][j] = (unsigned char)(i * 31 + j);
	}
	fflush(stdout);

	if (!strcmp(mode, "threads"))
		return threads(argc > 2 ? atoi(argv[2]) : 40, argc > 3 ? atoi(argv[3]) : 2);
	if (!strcmp(mode, "cow"))
		return cow(argc > 2 ? atoi(argv[2]) : 16, argc > 3 ? atoi(argv[3]) : 3);
	if (!strcmp(mode, "touch")) {
		pid_t pid = fork();
		if (pid == 0) {
			volatile unsigned char x = blocks[3][5];
			_exit(x == (unsigned char)(3 * 31 + 5) ? 0 : 3);
		}
		int st = 0;
		waitpid(pid, &st, 0);
		printf("child status %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
		return 0;
	}

	int bad = 0;
	/* fork + exec with argv and environment the child does not have to read from
	 * the heap. */
	pid_t pid = fork();
	if (pid == 0) {
		char *args[] = { "/bin/echo", "exec-child", NULL };
		execve(args[0], args, environ);
		_exit(127);
	}
	int st = 0;
	waitpid(pid, &st, 0);
	if (!WIFEXITED(st) || WEXITSTATUS(st)) {
		fprintf(stderr, "fork+exec child failed: status %d\n", st);
		bad = 1;
	}
	fflush(stdout);
	if (system("echo system-child") != 0) {
		fprintf(stderr, "system() failed\n");
		bad = 1;
	}
	FILE *f = popen("echo popen-child", "r");
	char line[64] = "";
	if (!f || !fgets(line, sizeof(line), f) || strcmp(line, "popen-child\n")) {
		fprintf(stderr, "popen() read '%s'\n", line);
		bad = 1;
	}
	if (f && pclose(f) != 0)
		bad = 1;
	/* posix_spawn with argv built on the heap (far memory): the spawned child shares
	 * the parent's memory until exec, so it can read it. */
	char **hargv = malloc(3 * sizeof(char *));
	hargv[0] = strdup("/bin/echo");
	hargv[1] = strdup("spawn-child");
	hargv[2] = NULL;
	fflush(stdout);
	if (posix_spawn(&pid, hargv[0], NULL, NULL, hargv, environ) ||
	    waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st)) {
		fprintf(stderr, "posix_spawn failed\n");
		bad = 1;
	}
	if (!heap_ok(blocks, N, size)) {
		fprintf(stderr, "the parent's heap changed\n");
		bad = 1;
	}
	printf(bad ? "fork FAILED\n" : "fork ok\n");
	return bad;
}
