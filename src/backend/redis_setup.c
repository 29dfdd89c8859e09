/*
 * redis_setup.c - opening the redis backend: the spec (servers, ?replicas=N), one
 * connection per server and role with the checks at start (AUTH, the server must not
 * evict, must be a primary), the session name, and the janitor process that deletes
 * the session's keys once this process is gone.  The data path is redis.c.
 */
#include "backend/redis.h"
#include "common/util.h"
#include "proto/memd_proto.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/wait.h>
#include <unistd.h>

/* Parse "HOST:PORT,HOST:PORT[?replicas=N]" into r->node[] and r->replicas. */
static int parse_spec(struct redis_backend *r, const char *spec, char *err, size_t errlen)
{
	char buf[256];
	snprintf(buf, sizeof(buf), "%s", spec);
	char *q = strchr(buf, '?');
	r->replicas = 0;
	if (q) {
		*q++ = 0;
		char *end;
		if (strncmp(q, "replicas=", 9) || !q[9] ||
		    (r->replicas = (int)strtol(q + 9, &end, 10), *end) || r->replicas < 0) {
			fs_errf(err, errlen, "backend 'redis://%s': unknown option '%s'; the one "
					     "option is ?replicas=N (extra copies of each page, 0-%d)",
				spec, q, MAX_NODES - 1);
			return FS_EINVAL;
		}
	}
	r->nnodes = 0;
	for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (r->nnodes == MAX_NODES) {
			fs_errf(err, errlen, "backend 'redis://%s': more than %d servers", spec, MAX_NODES);
			return FS_EINVAL;
		}
		struct node *nd = &r->node[r->nnodes];
		char *colon = strrchr(tok, ':'), *end;
		long port = colon ? strtol(colon + 1, &end, 10) : 0;
		if (!colon || colon == tok || !colon[1] || *end || port <= 0 || port > 65535) {
			fs_errf(err, errlen, "backend 'redis://%s': '%s' is not HOST:PORT (e.g. "
					     "redis://127.0.0.1:6379,127.0.0.1:6380?replicas=1)",
				spec, tok);
			return FS_EINVAL;
		}
		snprintf(nd->host, sizeof(nd->host), "%.*s", (int)(colon - tok), tok);
		nd->port = (int)port;
		snprintf(nd->addr, sizeof(nd->addr), "%.*s:%ld", (int)(colon - tok), tok, port);
		for (int k = 0; k < r->nnodes; k++)
			if (!strcmp(r->node[k].addr, nd->addr)) {
				fs_errf(err, errlen, "backend 'redis://%s': the server %s is listed twice",
					spec, nd->addr);
				return FS_EINVAL;
			}
		r->nnodes++;
	}
	if (!r->nnodes) {
		fs_errf(err, errlen, "backend 'redis://%s' names no server; use "
				     "redis://HOST:PORT[,HOST:PORT...][?replicas=N]",
			spec);
		return FS_EINVAL;
	}
	if (r->replicas >= r->nnodes) {
		fs_errf(err, errlen, "backend 'redis://%s': replicas=%d needs at least %d servers "
				     "(each copy of a page on a different server), %d given",
			spec, r->replicas, r->replicas + 1, r->nnodes);
		return FS_EINVAL;
	}
	return FS_OK;
}

int fs_backend_redis_check(const char *spec, char *err, size_t errlen)
{
	struct redis_backend *r = calloc(1, sizeof(*r));
	if (!r)
		return FS_ENOMEM;
	int rc = parse_spec(r, spec, err, errlen);
	free(r);
	return rc;
}

static redisReply *command(redisContext *c, char *err, size_t errlen, const char *addr,
			   const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	redisReply *rep = redisvCommand(c, fmt, ap);
	va_end(ap);
	if (!rep)
		fs_errf(err, errlen, "redis backend: %s did not answer (%s)", addr, c->errstr);
	return rep;
}

/* Connect one connection, authenticate, and (check) make sure the server does not
 * evict. */
static int connect_node(struct redis_backend *r, struct node *nd, int check, const char *secret,
			redisContext **out, char *err, size_t errlen)
{
	struct timeval tv = { CONNECT_TIMEOUT_MS / 1000, (CONNECT_TIMEOUT_MS % 1000) * 1000 };
	redisContext *c = redisConnectWithTimeout(nd->host, nd->port, tv);
	if (!c || c->err) {
		fs_errf(err, errlen, "redis backend: cannot connect to %s: %s; is it running? "
				     "(redis-server --port %d --maxmemory-policy noeviction --save '')",
			nd->addr, c ? c->errstr : "out of memory", nd->port);
		if (c)
			redisFree(c);
		return FS_EBACKEND;
	}
	*out = c;
	redisReply *rep;
	if (secret) {
		if (!(rep = command(c, err, errlen, nd->addr, "AUTH %s", secret)))
			return FS_EBACKEND;
		int bad = rep->type == REDIS_REPLY_ERROR;
		if (bad)
			fs_errf(err, errlen, "redis backend: %s refused the password of "
					     "--secret-file: %s", nd->addr, rep->str);
		freeReplyObject(rep);
		if (bad)
			return FS_EAUTH;
	}
	if (!(rep = command(c, err, errlen, nd->addr, "PING")))
		return FS_EBACKEND;
	if (rep->type == REDIS_REPLY_ERROR) {
		fs_errf(err, errlen, "redis backend: %s refused us: %s%s", nd->addr, rep->str,
			strstr(rep->str, "NOAUTH") ? " (pass its requirepass with --secret-file)" : "");
		freeReplyObject(rep);
		return FS_EAUTH;
	}
	freeReplyObject(rep);
	if (!check)
		return FS_OK;
	if (!(rep = command(c, err, errlen, nd->addr, "CONFIG GET maxmemory-policy")))
		return FS_EBACKEND;
	int rc = FS_OK;
	if (rep->type == REDIS_REPLY_ARRAY && rep->elements == 2 &&
	    rep->element[1]->type == REDIS_REPLY_STRING) {
		if (strcmp(rep->element[1]->str, "noeviction")) {
			fs_errf(err, errlen, "redis backend: %s runs with maxmemory-policy %s: it may "
					     "evict far pages; start it with --maxmemory-policy noeviction "
					     "(or CONFIG SET maxmemory-policy noeviction)",
				nd->addr, rep->element[1]->str);
			rc = FS_EINVAL;
		}
	} else {
		fs_log(0, "redis backend: cannot check the eviction policy of %s (%s); an eviction "
			  "will stop the program, so make sure it runs with noeviction",
		       nd->addr, rep->type == REDIS_REPLY_ERROR ? rep->str : "no answer to CONFIG GET");
	}
	freeReplyObject(rep);
	if (rc)
		return rc;
	if (!(rep = command(c, err, errlen, nd->addr, "ROLE")))
		return FS_EBACKEND;
	if (rep->type == REDIS_REPLY_ARRAY && rep->elements > 0 &&
	    rep->element[0]->type == REDIS_REPLY_STRING && strcmp(rep->element[0]->str, "master")) {
		fs_errf(err, errlen, "redis backend: %s is a read-only %s; give farsight primary "
				     "servers (farsight keeps its own replicas with ?replicas=N)",
			nd->addr, rep->element[0]->str);
		rc = FS_EINVAL;
	}
	freeReplyObject(rep);
	return rc;
}

/* The janitor: forked at open; when the pipe closes (this process exited, exec'd or
 * closed the backend), delete the session's keys on every server it can reach. */
static void janitor(struct redis_backend *r, int fd, const char *secret)
{
	setsid(); /* a Ctrl-C to the program's process group does not stop the cleanup */
	sigset_t all;
	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
	for (int k = 0; k < 1024; k++)
		if (k != fd)
			close(k);
	/* Drop the shared mappings inherited from the program (the arena's memfd views):
	 * they would keep its pages alive until we exit. */
	FILE *maps = fopen("/proc/self/maps", "r");
	if (maps) {
		char line[512];
		uintptr_t lo[256], hi[256];
		int n = 0;
		while (n < 256 && fgets(line, sizeof(line), maps)) {
			char perms[8];
			if (sscanf(line, "%lx-%lx %7s", &lo[n], &hi[n], perms) == 3 && perms[3] == 's')
				n++;
		}
		fclose(maps);
		for (int i = 0; i < n; i++)
			fs_sys_munmap((void *)lo[i], hi[i] - lo[i]);
	}
	for (;;) {
		char byte;
		ssize_t n = read(fd, &byte, 1);
		if (n == 0 || (n < 0 && errno != EINTR))
			break; /* every write end closed: the program is gone */
	}
	char pattern[64];
	snprintf(pattern, sizeof(pattern), "fs:%s:*", r->session);
	for (int n = 0; n < r->nnodes; n++) {
		char err[256];
		redisContext *c = NULL;
		if (connect_node(r, &r->node[n], 0, secret, &c, err, sizeof(err))) {
			if (c)
				redisFree(c);
			continue;
		}
		char cursor[32] = "0";
		do {
			redisReply *rep = redisCommand(c, "SCAN %s MATCH %s COUNT 1000", cursor, pattern);
			if (!rep || rep->type != REDIS_REPLY_ARRAY || rep->elements != 2) {
				if (rep)
					freeReplyObject(rep);
				break;
			}
			snprintf(cursor, sizeof(cursor), "%s", rep->element[0]->str);
			redisReply *keys = rep->element[1];
			if (keys->elements) {
				const char **argv = malloc((keys->elements + 1) * sizeof(char *));
				size_t *argl = malloc((keys->elements + 1) * sizeof(size_t));
				if (argv && argl) {
					argv[0] = "UNLINK";
					argl[0] = 6;
					for (size_t i = 0; i < keys->elements; i++) {
						argv[i + 1] = keys->element[i]->str;
						argl[i + 1] = keys->element[i]->len;
					}
					redisReply *d = redisCommandArgv(c, (int)keys->elements + 1, argv, argl);
					if (d)
						freeReplyObject(d);
				}
				free(argv);
				free(argl);
			}
			freeReplyObject(rep);
		} while (strcmp(cursor, "0"));
		redisFree(c);
	}
	_exit(0);
}

/* Fork the janitor twice removed, so that it is not this process's child: a program
 * that waits for all its children must not wait for it (it lives as long as we do). */
static int start_janitor(struct redis_backend *r, const char *secret, char *err, size_t errlen)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC)) {
		fs_errf(err, errlen, "redis backend: cannot create the janitor's pipe: %s",
			strerror(errno));
		return FS_EBACKEND;
	}
	pid_t pid = fork();
	if (pid == 0) {
		close(p[1]);
		if (fork() == 0)
			janitor(r, p[0], secret);
		_exit(0);
	}
	close(p[0]);
	int st = 0;
	if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st)) {
		close(p[1]);
		fs_errf(err, errlen, "redis backend: cannot start the janitor that deletes this "
				     "run's keys at exit: %s", strerror(errno));
		return FS_EBACKEND;
	}
	r->janitor_fd = p[1];
	return FS_OK;
}

int fs_backend_redis_open(const fs_config *cfg, const char *spec, fs_backend **out, char *err,
			  size_t errlen)
{
	struct redis_backend *r = calloc(1, sizeof(*r));
	if (!r)
		return FS_ENOMEM;
	r->base.ops = &fs_redis_ops;
	r->timeout_ms = cfg->backend_timeout_ms;
	r->janitor_fd = -1;
	int rc = parse_spec(r, spec, err, errlen);
	if (rc) {
		free(r);
		return rc;
	}
	char secret[FSP_SECRET_MAX + 1];
	size_t slen = 0;
	if (cfg->secret_file[0] &&
	    (rc = fsp_secret_read(cfg->secret_file, (unsigned char *)secret, &slen, err, errlen))) {
		free(r);
		return rc;
	}
	secret[slen] = 0;
	if (memchr(secret, 0, slen)) {
		fs_errf(err, errlen, "redis backend: the secret in %s has a NUL byte; a Redis "
				     "password cannot", cfg->secret_file);
		free(r);
		return FS_EINVAL;
	}
	const char *pw = slen ? secret : NULL;
	unsigned char rnd[8];
	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
		fs_errf(err, errlen, "redis backend: no random numbers for the session name");
		free(r);
		return FS_EBACKEND;
	}
	for (int i = 0; i < 8; i++)
		snprintf(r->session + 2 * i, 3, "%02x", rnd[i]);
	atomic_store_explicit(&r->start_ns, fs_now_ns(), RLX);
	r->ops = calloc(MAX_OPS, sizeof(*r->ops));
	r->free_ops = calloc(MAX_OPS, sizeof(*r->free_ops));
	r->done = calloc(MAX_OPS, sizeof(*r->done));
	r->rxbuf = malloc(RX_CHUNK);
	rc = r->ops && r->free_ops && r->done && r->rxbuf ? fs_redis_build_ring(r) : FS_ENOMEM;
	for (uint32_t i = 0; i < MAX_OPS; i++)
		if (r->free_ops)
			r->free_ops[r->nfree_ops++] = MAX_OPS - 1 - i;
	for (int n = 0; n < r->nnodes && !rc; n++)
		for (int w = 0; w < 2 && !rc; w++) {
			struct conn *c = &r->node[n].conn[w];
			c->cap = CONN_CMDS;
			if (!(c->ring = calloc(CONN_CMDS, sizeof(*c->ring))))
				rc = FS_ENOMEM;
			else
				rc = connect_node(r, &r->node[n], w == BULK, pw, &c->c, err, errlen);
		}
	if (!rc)
		rc = start_janitor(r, pw, err, errlen);
	memset(secret, 0, sizeof(secret));
	if (rc) {
		if (rc == FS_ENOMEM)
			fs_errf(err, errlen, "redis backend: out of local memory");
		fs_redis_close(&r->base);
		return rc;
	}
	/* From here on the connections are non-blocking: the pager polls them. */
	for (int n = 0; n < r->nnodes; n++)
		for (int w = 0; w < 2; w++) {
			redisContext *c = r->node[n].conn[w].c;
			c->flags &= ~REDIS_BLOCK;
			fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) | O_NONBLOCK);
			fcntl(c->fd, F_SETFD, FD_CLOEXEC);
		}
	*out = &r->base;
	return FS_OK;
}
