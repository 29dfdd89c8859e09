/*
 * spawn.h - start a server process for a test (header-only: memd_spawn.h,
 * redis_spawn.h).  The child dies with the test (PR_SET_PDEATHSIG), so no server
 * outlives a crashed test.
 */
#ifndef FS_TEST_SPAWN_H
#define FS_TEST_SPAWN_H

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <unistd.h>

/* Run argv[0] (a path, or a name looked up in PATH) with argv; its stderr to log if
 * not NULL; env ("NAME=VALUE") added to its environment if not NULL.  Returns its pid,
 * or -1 if fork failed (an exec failure is exit status 127). */
static inline pid_t test_spawn(const char *const *argv, const char *log, const char *env)
{
	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid != 0)
		return pid;
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(127);
	if (log) {
		int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (fd >= 0)
			dup2(fd, 2);
	}
	if (env)
		putenv((char *)env);
	execvp(argv[0], (char *const *)argv);
	_exit(127);
}

#endif
