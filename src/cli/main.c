/*
 * main.c - the `farsight` command: dispatches to subcommands (cli.h).
 */
#include "cli/cli.h"
#include "farsight.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const struct {
	const char *name;
	int (*fn)(int, char **);
	const char *help;
} commands[] = {
	{ "run", fs_cmd_run, "run a program with its heap in far memory" },
	{ "workload", fs_cmd_workload, "run one of the bundled workloads (mcf, xgboost, pagerank, sssp)" },
	{ "bench", fs_cmd_bench, "run workloads x local-memory ratios x prefetchers; CSV, plots, report" },
	{ "trace", fs_cmd_trace, "inspect a recorded event trace (trace info FILE)" },
	{ "train", fs_cmd_train, "train a FarSight model on recorded traces" },
	{ "eval", fs_cmd_eval, "score a model or replay a trace through a prefetcher" },
	{ "memd", fs_cmd_memd, "the far-memory server for the tcp backend" },
	{ "settings", fs_cmd_settings, "list every setting (--markdown for the README table)" },
};

static char bindir[PATH_MAX];

const char *fs_cli_bindir(void)
{
	return bindir[0] ? bindir : ".";
}

int fs_cli_usage_error(const char *fmt, ...)
{
	va_list ap;
	fputs("farsight: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return 2;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: farsight COMMAND [ARGS...]\n\n"
		   "farsight %s: a far-memory runtime with learned (FarSight) prefetching.\n\n"
		   "commands:\n",
		FS_VERSION_STRING);
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-9s %s\n", commands[i].name, commands[i].help);
	fprintf(f, "\n`farsight COMMAND --help` describes one command.\n"
		   "Example: farsight run --local-mem 256M --prefetch readahead -- sort big.txt\n");
}

int main(int argc, char **argv)
{
	ssize_t n = readlink("/proc/self/exe", bindir, sizeof(bindir) - 1);
	if (n > 0) {
		bindir[n] = 0;
		char *slash = strrchr(bindir, '/');
		if (slash)
			*slash = 0;
	}
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "--version")) {
		printf("farsight %s\n", FS_VERSION_STRING);
		return 0;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(argv[1], commands[i].name))
			return commands[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "farsight: unknown command '%s'\n\n", argv[1]);
	usage(stderr);
	return 2;
}
