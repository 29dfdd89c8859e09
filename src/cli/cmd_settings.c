/*
 * cmd_settings.c - `farsight settings [--markdown]`: print the settings table, as a
 * list or as the Markdown table the README embeds (tools/update-readme-settings.sh
 * regenerates that section from this output, so README and code cannot drift).
 */
#include "cli/cli.h"
#include "farsight.h"
#include "prefetch/policy.h"

#include <stdio.h>
#include <string.h>

int fs_cmd_settings(int argc, char **argv)
{
	int md = argc > 1 && !strcmp(argv[1], "--markdown");
	if (argc > 1 && !md) {
		if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
			printf("usage: farsight settings [--markdown]\n");
			return 0;
		}
		return fs_cli_usage_error("settings: unknown option '%s'", argv[1]);
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
