/*
 * bench_exec.c - how `farsight bench` runs one child and reads what it left behind.
 *
 * The child gets its own process group (so a timeout kills the workload and the
 * farsight wrapper together, and nothing else), is optionally pinned to one CPU
 * before exec (the affinity is inherited by farsight run's pager and the workload),
 * and writes stdout/stderr to files in the bench folder's logs/.  The wall time is
 * taken around fork..reap; the wait uses a pidfd so the reap is seen at once rather
 * than at the next tick of a polling loop.
 */
#include "bench/bench.h"
#include "prefetch/policy.h"
#include "common/util.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif

double bench_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

int bench_linux_swap_cluster(const char *prefetch)
{
	if (!strcmp(prefetch, "linux-swap"))
		return 3;
	if (!strcmp(prefetch, "linux-swap-ra0") || !strcmp(prefetch, "linux-swap-zram"))
		return 0;
	return -1;
}

const char *bench_linux_swap_device(const char *prefetch)
{
	return !strcmp(prefetch, "linux-swap-zram") ? "zram" : "file";
}

int bench_policy_is(const char *entry, const char *policy)
{
	size_t n = strcspn(entry, "+");
	return strlen(policy) == n && !strncmp(entry, policy, n);
}

/* The next "+SETTING=VALUE" of an entry, from *p (at a '+' or the end): 1 with *s and
 * the value (cut to vallen) set and *p moved past it, 0 at the end, -1 for an item that
 * is not a setting of `farsight run` with a flag (prefetch excluded), *p then at it.
 * The one parser of variant entries, for the check and for the arguments. */
static int variant_next(const char **p, const fs_setting_info **s, char *val, size_t vallen)
{
	if (**p != '+')
		return 0;
	const char *item = *p + 1;
	size_t len = strcspn(item, "+");
	const char *eq = memchr(item, '=', len);
	*s = eq ? fs_setting_find(item, (size_t)(eq - item), 0) : NULL;
	if (!*s || !(*s)->flag || !strcmp((*s)->name, "prefetch")) {
		*p = item;
		return -1;
	}
	snprintf(val, vallen, "%.*s", (int)(len - (size_t)(eq + 1 - item)), eq + 1);
	*p = item + len;
	return 1;
}

int bench_variant_check(const char *entry, char *err, size_t errlen)
{
	size_t n = strcspn(entry, "+");
	char pol[64];
	snprintf(pol, sizeof pol, "%.*s", (int)FS_MIN(n, sizeof pol - 1), entry);
	if (!fs_policy_find(pol)) {
		fs_errf(err, errlen, "unknown prefetcher '%s'", pol);
		return FS_EINVAL;
	}
	fs_config scratch;
	char why[256];
	if (fs_config_from_env(&scratch, why, sizeof why)) {
		fs_errf(err, errlen, "%s", why);
		return FS_EINVAL;
	}
	const char *p = entry + n;
	const fs_setting_info *s;
	char val[256];
	int rc;
	while ((rc = variant_next(&p, &s, val, sizeof val)) > 0)
		if (fs_config_set(&scratch, s->name, val, why, sizeof why)) {
			fs_errf(err, errlen, "'%s': %s", entry, why);
			return FS_EINVAL;
		}
	if (rc < 0) {
		fs_errf(err, errlen, "'%s': after '+' comes SETTING=VALUE, a setting of "
			"`farsight run` with a flag other than prefetch (see farsight settings), "
			"not '%.*s'", entry, (int)strcspn(p, "+"), p);
		return FS_EINVAL;
	}
	return FS_OK;
}

int bench_variant_args(const char *entry, char *buf, size_t buflen, char **av, int max)
{
	/* buf: the policy name, then each value, NUL-terminated, for av to point at */
	size_t n = strcspn(entry, "+"), used = FS_MIN(n, buflen - 1) + 1;
	snprintf(buf, buflen, "%.*s", (int)(used - 1), entry);
	const char *p = entry + n;
	const fs_setting_info *s;
	int ac = 0;
	while (ac + 2 <= max && used < buflen &&
	       variant_next(&p, &s, buf + used, buflen - used) > 0) {
		av[ac++] = (char *)s->flag;
		av[ac++] = buf + used;
		used += strlen(buf + used) + 1;
	}
	return ac;
}

int bench_exec(char *const argv[], const char *out_path, const char *err_path, int cpu,
	       double timeout_s, double term_grace_s, double *seconds, long *maxrss_kb)
{
	double t0 = bench_now();
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		setpgid(0, 0);
		if (cpu >= 0) {
			cpu_set_t set;
			CPU_ZERO(&set);
			CPU_SET(cpu, &set);
			sched_setaffinity(0, sizeof set, &set);
		}
		int o = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		int e = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (o < 0 || e < 0)
			_exit(126);
		dup2(o, 1);
		dup2(e, 2);
		execv(argv[0], argv);
		dprintf(2, "farsight bench: cannot run %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	setpgid(pid, pid); /* both sides set it: no race with an early kill */
	int pfd = (int)syscall(SYS_pidfd_open, pid, 0);
	int status = 0, timed_out = 0, killed = 0;
	struct rusage ru;
	memset(&ru, 0, sizeof ru);
	for (;;) {
		pid_t r = wait4(pid, &status, WNOHANG, &ru);
		if (r == pid)
			break;
		if (r < 0 && errno != EINTR)
			return -1;
		double left = timeout_s - (bench_now() - t0);
		if (left <= 0 && !timed_out) {
			timed_out = 1;
			if (term_grace_s > 0) {
				kill(-pid, SIGTERM);
			} else {
				kill(-pid, SIGKILL);
				killed = 1;
			}
			continue;
		}
		if (timed_out && !killed && left <= -term_grace_s) {
			kill(-pid, SIGKILL);
			killed = 1;
			continue;
		}
		if (pfd >= 0) {
			struct pollfd p = { .fd = pfd, .events = POLLIN };
			int ms = timed_out ? 100 : (int)fmin(left * 1000 + 1, 1000);
			poll(&p, 1, ms);
		} else {
			usleep(2000);
		}
	}
	*seconds = bench_now() - t0;
	if (maxrss_kb)
		*maxrss_kb = ru.ru_maxrss;
	if (pfd >= 0)
		close(pfd);
	if (timed_out)
		return -1;
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	return 128 + WTERMSIG(status);
}

double bench_read_kernel_seconds(const char *path)
{
	FILE *f = fopen(path, "r");
	char line[512];
	double k = NAN;
	if (!f)
		return k;
	while (fgets(line, sizeof line, f)) {
		const char *p = strstr(line, "time: generate ");
		double g, v;
		if (p && sscanf(p, "time: generate %lf s, kernel %lf s", &g, &v) == 2)
			k = v;
	}
	fclose(f);
	return k;
}

void bench_read_checksum(const char *path, char *out, size_t outlen)
{
	FILE *f = fopen(path, "r");
	char line[512];
	out[0] = 0;
	if (!f)
		return;
	while (fgets(line, sizeof line, f)) {
		const char *p = line;
		if (strncmp(p, "checksum: ", 10))
			continue;
		p += 10;
		size_t n = strspn(p, "0123456789abcdefABCDEF");
		if (n == 0 || n >= outlen)
			continue;
		memcpy(out, p, n);
		out[n] = 0;
	}
	fclose(f);
}

/* ---- a small JSON reader: objects of numbers, strings, booleans, nulls, arrays
 * (kept as raw text) and nested objects (flattened as parent.child). ---- */
typedef struct jp {
	const char *s;
	bench_kv *kv;
	int n, max;
} jp;

static void ws(jp *j)
{
	while (isspace((unsigned char)*j->s))
		j->s++;
}

static int jstring(jp *j, char *out, size_t outlen)
{
	size_t n = 0;
	if (*j->s != '"')
		return -1;
	j->s++;
	while (*j->s && *j->s != '"') {
		char c = *j->s++;
		if (c == '\\' && *j->s)
			c = *j->s++; /* keep the escaped character itself; good enough for stats */
		if (n + 1 < outlen)
			out[n++] = c;
	}
	if (*j->s != '"')
		return -1;
	j->s++;
	out[n] = 0;
	return 0;
}

static void put(jp *j, const char *key, const char *val)
{
	if (j->n >= j->max)
		return;
	snprintf(j->kv[j->n].key, sizeof j->kv[j->n].key, "%s", key);
	snprintf(j->kv[j->n].val, sizeof j->kv[j->n].val, "%s", val);
	j->n++;
}

static int jobject(jp *j, const char *prefix)
{
	ws(j);
	if (*j->s != '{')
		return -1;
	j->s++;
	for (;;) {
		char key[64], full[160], val[96];
		ws(j);
		if (*j->s == '}') {
			j->s++;
			return 0;
		}
		if (jstring(j, key, sizeof key))
			return -1;
		snprintf(full, sizeof full, "%s%s%s", prefix, *prefix ? "." : "", key);
		ws(j);
		if (*j->s++ != ':')
			return -1;
		ws(j);
		if (*j->s == '{') {
			if (jobject(j, full))
				return -1;
		} else if (*j->s == '"') {
			if (jstring(j, val, sizeof val))
				return -1;
			put(j, full, val);
		} else {
			/* number, literal or array: copy the raw text up to the next , or }
			 * at this nesting level */
			int depth = 0;
			size_t n = 0;
			while (*j->s && (depth > 0 || (*j->s != ',' && *j->s != '}'))) {
				if (*j->s == '[')
					depth++;
				else if (*j->s == ']')
					depth--;
				if (n + 1 < sizeof val)
					val[n++] = *j->s;
				j->s++;
			}
			while (n && isspace((unsigned char)val[n - 1]))
				n--;
			val[n] = 0;
			put(j, full, val);
		}
		ws(j);
		if (*j->s == ',')
			j->s++;
		else if (*j->s != '}')
			return -1;
	}
}

int bench_read_json(const char *path, bench_kv *kv, int max)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	char *buf = NULL;
	size_t cap = 0, len = 0, got;
	do {
		if (len + 4096 > cap) {
			char *b = realloc(buf, cap = cap * 2 + 8192);
			if (!b) {
				free(buf);
				fclose(f);
				return -1;
			}
			buf = b;
		}
		got = fread(buf + len, 1, cap - len - 1, f);
		len += got;
	} while (got > 0);
	fclose(f);
	buf[len] = 0;
	jp j = { .s = buf, .kv = kv, .max = max };
	int rc = jobject(&j, "");
	free(buf);
	return rc ? -1 : j.n;
}

const char *bench_kv_get(const bench_run *r, const char *key)
{
	for (int i = 0; i < r->n_kv; i++)
		if (!strcmp(r->kv[i].key, key))
			return r->kv[i].val;
	return NULL;
}

double bench_kv_num(const bench_run *r, const char *key)
{
	const char *v = bench_kv_get(r, key);
	char *end;
	if (!v)
		return NAN;
	double d = strtod(v, &end);
	return end == v ? NAN : d;
}
