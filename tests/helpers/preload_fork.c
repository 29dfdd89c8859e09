/*
 * preload_fork.c - fork, exec and child processes under the preload shim (test helper).
 *
 * usage: preload_fork MODE
 *   spawn   fork+exec of /bin/echo (argv on the stack), system(), popen() and
 *           posix_spawn(), with a malloc'd heap of a few MiB live in the parent
 *           that must be intact afterwards; prints "fork ok" and exits 0
 *   touch   fork, then the child reads a malloc'd buffer: under farsight the child is
 *           stopped with a message and exit status 1, which this mode reports as
 *           "child status N"; exits 0 either way (the test reads the output)
 */
#include <spawn.h>
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
