/*
 * cmd_settings.c - `farsight settings [--markdown]`: print the settings table, as a
 * list or as the Markdown table the README embeds (tools/update-readme-settings.sh
 * regenerates that section from this output, so README and code cannot drift).
 * `farsight settings --stats [--markdown]`: the definitions of the summary's and the
 * stats JSON's counts (docs/ARCHITECTURE.md embeds the Markdown form).
 */
#include "cli/cli.h"
#include "farsight.h"
#include "prefetch/policy.h"

#include <stdio.h>
#include <string.h>

int fs_cmd_settings(int argc, char **argv)
{
	int md = 0, stats = 0;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--markdown"))
			md = 1;
		else if (!strcmp(argv[i], "--stats"))
			stats = 1;
		else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			printf("usage: farsight settings [--stats] [--markdown]\n\n"
			       "Prints every setting (its flag of farsight run, environment variable,\n"
			       "default and meaning), or with --stats what each number of the summary\n"
			       "and the stats JSON means; --markdown as a Markdown table.\n");
			return 0;
		} else
			return fs_cli_usage_error("settings: unknown option '%s' (--stats, --markdown)", argv[i]);
	}
	if (stats) {
		fs_stats_describe(stdout, md);
		return 0;
	}
	size_t n;
	const fs_setting_info *t = fs_settings_table(&n);
	if (md) {
		printf("| setting | flag of `farsight run` | environment | default | meaning |\n");
		printf("|---|---|---|---|---|\n");
		for (size_t i = 0; i < n; i++)
			printf("| %s | %s | %s | %s | %s |\n", t[i].name,
			       t[i].flag ? t[i].flag : "", t[i].env, *t[i].def ? t[i].def : "(none)",
			       t[i].help);
		return 0;
	}
	for (size_t i = 0; i < n; i++)
		printf("%-18s %-6s %-12s %-28s %s\n", t[i].name, t[i].type,
		       *t[i].def ? t[i].def : "-", t[i].env, t[i].help);
	printf("\nprefetchers:");
	for (const char *const *p = fs_policy_names(); *p; p++)
		printf(" %s", *p);
	printf("\n");
	return 0;
}
