/*
 * cmd_run.c - `farsight run [OPTIONS] -- PROGRAM [ARGS...]`: run an unmodified program
 * with its heap in far memory.
 *
 * Every option is a row of the settings table (src/common/settings.c).  The command
 * checks each value, turns it into the FARSIGHT_* environment variable the runtime
 * reads, puts libfarsight-preload.so into LD_PRELOAD and starts the program in a child
 * process.  The preloaded runtime prints the summary and writes the JSON when the
 * program exits; this command passes the program's exit status through (128 + N when
 * it was killed by signal N).  Bad usage exits with status 2 and a one-line message.
 */
#include "cli/cli.h"
#include "farsight.h"
#include "prefetch/policy.h"
#include "common/util.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void run_usage(FILE *f)
{
	size_t n;
	const fs_setting_info *t = fs_settings_table(&n);
	fprintf(f, "usage: farsight run [OPTIONS] -- PROGRAM [ARGS...]\n\n"
		   "Runs PROGRAM with its heap (malloc and private anonymous mmap) in far memory:\n"
		   "only --local-mem bytes of it stay local, the rest is held by the backend,\n"
		   "and the prefetcher fetches pages ahead of use.  Prints a summary at exit.\n\n"
		   "options (each also an environment variable):\n");
	for (size_t i = 0; i < n; i++) {
		if (!t[i].flag)
			continue;
		char left[64];
		snprintf(left, sizeof(left), "%s%s", t[i].flag,
			 strcmp(t[i].type, "bool") ? (strcmp(t[i].type, "size") ? " VALUE" : " SIZE") : "");
		fprintf(f, "  %-24s %s [%s; default %s]\n", left, t[i].help, t[i].env,
			*t[i].def ? t[i].def : "none");
	}
	fprintf(f, "  %-24s this help\n\n", "--help");
	fprintf(f, "prefetchers:");
	for (const char *const *p = fs_policy_names(); *p; p++)
		fprintf(f, " %s", *p);
	fprintf(f, "\nexample: farsight run --local-mem 256M --prefetch readahead -- sort big.txt\n");
}

static int check_value(const fs_setting_info *s, const char *value)
{
	fs_config cfg;
	char err[512];
	memset(&cfg, 0, sizeof(cfg));
	if (fs_config_set(&cfg, s->name, value, err, sizeof(err)))
		return fs_cli_usage_error("%s: %s", s->flag, strchr(err, ':') ? strchr(err, ':') + 2 : err);
	if (!strcmp(s->name, "local_mem") && cfg.local_mem == 0)
		return fs_cli_usage_error("--local-mem: a size of 0 leaves no local memory; give a "
					  "size like 64M or 1G");
	if (!strcmp(s->name, "prefetch") && !fs_policy_find(value)) {
		char list[256] = "";
		for (const char *const *p = fs_policy_names(); *p; p++)
			snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s",
				 *list ? ", " : "", *p);
		return fs_cli_usage_error("--prefetch: unknown prefetcher '%s'; choose one of: %s",
					  value, list);
	}
	if (!strcmp(s->name, "backend") && strcmp(value, "mem") && strncmp(value, "tcp://", 6))
		return fs_cli_usage_error("--backend: unknown backend '%s'; use mem or tcp://HOST:PORT",
					  value);
	return 0;
}

/* FNV-1a of the argv as /proc/PID/cmdline shows it: each argument NUL-terminated. */
static uint64_t command_hash(char **argv)
{
	uint64_t h = FS_FNV_SEED;
	for (; *argv; argv++)
		h = fs_fnv1a(*argv, strlen(*argv) + 1, h);
	return h;
}

int fs_cmd_run(int argc, char **argv)
{
	int i = 1;
	for (; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--")) {
			i++;
			break;
		}
		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			run_usage(stdout);
			return 0;
		}
		if (strncmp(a, "--", 2))
			break; /* the program */
		const char *eq = strchr(a, '=');
		const fs_setting_info *s = fs_setting_find(a, eq ? (size_t)(eq - a) : strlen(a), 1);
		if (!s)
			return fs_cli_usage_error("run: unknown option '%s'; see farsight run --help", a);
		const char *value;
		if (!strcmp(s->type, "bool") && !eq)
			value = "1";
		else if (eq)
			value = eq + 1;
		else if (i + 1 < argc)
			value = argv[++i];
		else
			return fs_cli_usage_error("%s needs a value; see farsight run --help", s->flag);
		int rc = check_value(s, value);
		if (rc)
			return rc;
		setenv(s->env, value, 1);
	}
	if (i >= argc)
		return fs_cli_usage_error("run: no program given; usage: farsight run [OPTIONS] -- "
					  "PROGRAM [ARGS...]");
	/* Values that came from the environment are checked too, before the program
	 * starts, so that a bad one is a usage error and not a failure inside it. */
	fs_config cfg;
	char err[512];
	if (fs_config_from_env(&cfg, err, sizeof(err)))
		return fs_cli_usage_error("%s", err);
	if (cfg.local_mem == 0)
		return fs_cli_usage_error("FARSIGHT_LOCAL_MEM: a size of 0 leaves no local memory");
	if (!fs_policy_find(cfg.prefetch))
		return fs_cli_usage_error("FARSIGHT_PREFETCH: unknown prefetcher '%s'", cfg.prefetch);

	char preload[4200];
	const char *over = getenv("FARSIGHT_PRELOAD");
	snprintf(preload, sizeof(preload), "%s", over && *over ? over : "");
	if (!*preload)
		snprintf(preload, sizeof(preload), "%s/libfarsight-preload.so", fs_cli_bindir());
	if (access(preload, R_OK))
		return fs_cli_usage_error("run: cannot find the preload library %s (%s); build it with "
					  "make, or set FARSIGHT_PRELOAD", preload, strerror(errno));
	const char *old = getenv("LD_PRELOAD");
	char ld[8400];
	snprintf(ld, sizeof(ld), "%s%s%s", preload, old && *old ? ":" : "", old ? old : "");
	setenv("LD_PRELOAD", ld, 1);
	char hash[32];
	snprintf(hash, sizeof(hash), "%llu", (unsigned long long)command_hash(argv + i));
	setenv("FARSIGHT_COMMAND_HASH", hash, 1);

	/* Like system(): the terminal's signals reach the program; we only wait. */
	struct sigaction ign = { .sa_handler = SIG_IGN }, oint, oquit;
	sigaction(SIGINT, &ign, &oint);
	sigaction(SIGQUIT, &ign, &oquit);
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0)
		return fs_cli_usage_error("run: fork: %s", strerror(errno));
	if (pid == 0) {
		sigaction(SIGINT, &oint, NULL);
		sigaction(SIGQUIT, &oquit, NULL);
		char root[32];
		snprintf(root, sizeof(root), "%d", (int)getpid());
		setenv("FARSIGHT_ROOT_PID", root, 1);
		execvp(argv[i], argv + i);
		fprintf(stderr, "farsight: cannot run %s: %s\n", argv[i], strerror(errno));
		_exit(errno == ENOENT ? 127 : 126);
	}
	int status;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return fs_cli_usage_error("run: waitpid: %s", strerror(errno));
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (WIFSIGNALED(status)) {
		fprintf(stderr, "farsight: %s was killed by signal %d (%s)\n", argv[i],
			WTERMSIG(status), strsignal(WTERMSIG(status)));
		return 128 + WTERMSIG(status);
	}
	return 1;
}
