/*
 * memd_spawn.h - start and stop a real `farsight memd` on 127.0.0.1 for the tests
 * (header-only, included by tests/test_memd*.c).
 *
 * memd binds port 0 and writes the port it got to --port-file, so tests never race
 * for a fixed port.  Its stderr goes to a log file the tests read to check that a bad
 * client was closed for the right reason.  PR_SET_PDEATHSIG kills memd if the test
 * dies, so no server outlives a crashed test.
 */
#ifndef FS_MEMD_SPAWN_H
#define FS_MEMD_SPAWN_H

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "helpers/spawn.h"

typedef struct memd_proc {
	pid_t pid;
	int port;
	char dir[256];
	char log[300];
} memd_proc;

static char memd_tmpdir[128];

static inline const char *memd_bin(void)
{
	const char *b = getenv("FARSIGHT_BIN");
	return b && b[0] ? b : "build/farsight";
}

static inline void memd_sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

/* Start memd with extra args (NULL-terminated).  Returns 0 and fills *m, or -1. */
static inline int memd_start(memd_proc *m, const char *name, const char *const *extra)
{
	if (!memd_tmpdir[0]) {
		snprintf(memd_tmpdir, sizeof(memd_tmpdir), "/tmp/fs-memd-test.XXXXXX");
		if (!mkdtemp(memd_tmpdir))
			return -1;
	}
	memset(m, 0, sizeof(*m));
	snprintf(m->dir, sizeof(m->dir), "%s/%s", memd_tmpdir, name);
	mkdir(m->dir, 0700);
	char portfile[320], pidfile[320];
	snprintf(portfile, sizeof(portfile), "%s/port", m->dir);
	snprintf(pidfile, sizeof(pidfile), "%s/pid", m->dir);
	snprintf(m->log, sizeof(m->log), "%s/memd.log", m->dir);
	unlink(portfile);
	const char *argv[32] = { memd_bin(), "memd", "--listen", "127.0.0.1:0", "--port-file",
				 portfile, "--pidfile", pidfile };
	int a = 8;
	for (int i = 0; extra && extra[i] && a < 30; i++)
		argv[a++] = extra[i];
	argv[a] = NULL;
	pid_t pid = test_spawn(argv, m->log, "FARSIGHT_DEBUG=1");
	if (pid < 0)
		return -1;
	m->pid = pid;
	for (int i = 0; i < 500; i++) { /* up to 5 s */
		FILE *f = fopen(portfile, "r");
		if (f) {
			int port = 0;
			int ok = fscanf(f, "%d", &port) == 1 && port > 0;
			fclose(f);
			if (ok) {
				m->port = port;
				return 0;
			}
		}
		int st;
		if (waitpid(pid, &st, WNOHANG) == pid) {
			m->pid = 0;
			return -1;
		}
		memd_sleep_ms(10);
	}
	return -1;
}

/* Stop memd with sig and reap it; returns its wait status. */
static inline int memd_stop(memd_proc *m, int sig)
{
	int st = -1;
	if (m->pid > 0) {
		kill(m->pid, sig);
		waitpid(m->pid, &st, 0);
		m->pid = 0;
	}
	return st;
}

/* The whole log, malloc'd (NUL-terminated). */
static inline char *memd_log(const memd_proc *m)
{
	FILE *f = fopen(m->log, "r");
	if (!f)
		return strdup("");
	char *buf = calloc(1, 1 << 20);
	size_t n = fread(buf, 1, (1 << 20) - 1, f);
	buf[n] = 0;
	fclose(f);
	return buf;
}

/* Wait (up to 5 s) until memd's log contains needle: its log lines are asynchronous
 * to what the test sees on its socket. */
static inline int memd_log_wait(const memd_proc *m, const char *needle)
{
	for (int i = 0; i < 500; i++) {
		char *l = memd_log(m);
		int found = strstr(l, needle) != NULL;
		free(l);
		if (found)
			return 1;
		memd_sleep_ms(10);
	}
	return 0;
}

static inline void memd_cleanup_dir(void)
{
	if (memd_tmpdir[0]) {
		char cmd[200];
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", memd_tmpdir);
		if (system(cmd) != 0)
			fprintf(stderr, "could not remove %s\n", memd_tmpdir);
	}
}

#endif
