/*
 * redis_spawn.h - start and stop real redis-server processes on 127.0.0.1 for the
 * tests (header-only, included by tests/test_redis.c).
 *
 * Each server gets a port the kernel just handed out (bind to port 0, read it, close,
 * start redis on it; retried if another process took it meanwhile), no persistence,
 * maxmemory-policy noeviction unless the test asks otherwise; it dies with the test
 * (helpers/spawn.h).  redis-server comes from tools/install-deps.sh.
 */
#ifndef FS_REDIS_SPAWN_H
#define FS_REDIS_SPAWN_H

#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "helpers/spawn.h"

typedef struct redis_proc {
	pid_t pid;
	int port;
	char addr[32]; /* "127.0.0.1:PORT" */
} redis_proc;

static char redis_tmpdir[64];

static inline void redis_sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

static inline int redis_free_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) || getsockname(fd, (struct sockaddr *)&a, &len)) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	close(fd);
	return ntohs(a.sin_port);
}

/* A blocking connection to the server, for the test's own commands. */
static inline redisContext *redis_admin(const redis_proc *p)
{
	struct timeval tv = { 2, 0 };
	redisContext *c = redisConnectWithTimeout("127.0.0.1", p->port, tv);
	if (c && c->err) {
		redisFree(c);
		return NULL;
	}
	return c;
}

/* Run one command on the server; returns its integer reply (or the length of its
 * string reply), -1 on an error reply or no answer. */
static inline long long redis_cmd(const redis_proc *p, const char *fmt, ...)
{
	redisContext *c = redis_admin(p);
	if (!c)
		return -1;
	va_list ap;
	va_start(ap, fmt);
	redisReply *r = redisvCommand(c, fmt, ap);
	va_end(ap);
	long long v = -1;
	if (r && r->type == REDIS_REPLY_INTEGER)
		v = r->integer;
	else if (r && (r->type == REDIS_REPLY_STATUS || r->type == REDIS_REPLY_STRING))
		v = (long long)r->len;
	if (r)
		freeReplyObject(r);
	redisFree(c);
	return v;
}

/* A counter from INFO (e.g. "evicted_keys"), -1 if absent. */
static inline long long redis_info(const redis_proc *p, const char *field)
{
	redisContext *c = redis_admin(p);
	if (!c)
		return -1;
	redisReply *r = redisCommand(c, "INFO");
	long long v = -1;
	char key[64];
	snprintf(key, sizeof(key), "\r\n%s:", field);
	if (r && r->type == REDIS_REPLY_STRING) {
		const char *at = strstr(r->str, key);
		if (at)
			v = atoll(at + strlen(key));
	}
	if (r)
		freeReplyObject(r);
	redisFree(c);
	return v;
}

/* Start a server; extra: more redis-server arguments (NULL-terminated), e.g.
 * { "--maxmemory-policy", "allkeys-lru", NULL } overrides the default policy. */
static inline int redis_start(redis_proc *p, const char *const *extra)
{
	if (!redis_tmpdir[0]) {
		snprintf(redis_tmpdir, sizeof(redis_tmpdir), "/tmp/fs-redis-test.XXXXXX");
		if (!mkdtemp(redis_tmpdir))
			return -1;
	}
	for (int attempt = 0; attempt < 5; attempt++) {
		memset(p, 0, sizeof(*p));
		p->port = redis_free_port();
		if (p->port <= 0)
			return -1;
		snprintf(p->addr, sizeof(p->addr), "127.0.0.1:%d", p->port);
		char port[16], log[128];
		snprintf(port, sizeof(port), "%d", p->port);
		snprintf(log, sizeof(log), "%s/redis-%d.log", redis_tmpdir, p->port);
		const char *argv[40] = { "redis-server", "--port", port, "--bind", "127.0.0.1",
					 "--save", "", "--appendonly", "no", "--dir", redis_tmpdir,
					 "--logfile", log, "--maxmemory-policy", "noeviction" };
		int a = 15;
		for (int i = 0; extra && extra[i] && a < 38; i++)
			argv[a++] = extra[i];
		argv[a] = NULL;
		pid_t pid = test_spawn(argv, NULL, NULL);
		if (pid < 0)
			return -1;
		p->pid = pid;
		for (int i = 0; i < 300; i++) { /* up to 3 s */
			if (redis_cmd(p, "PING") > 0)
				return 0;
			int st;
			if (waitpid(pid, &st, WNOHANG) == pid)
				break; /* exited: the port was taken, or redis-server is missing */
			redis_sleep_ms(10);
		}
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		p->pid = 0;
	}
	fprintf(stderr, "  cannot start redis-server (is it installed? tools/install-deps.sh)\n");
	return -1;
}

static inline void redis_stop(redis_proc *p, int sig)
{
	if (p->pid > 0) {
		kill(p->pid, sig);
		waitpid(p->pid, NULL, 0);
		p->pid = 0;
	}
}

#endif
