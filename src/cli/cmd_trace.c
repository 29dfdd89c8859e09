/*
 * cmd_trace.c - `farsight trace info FILE [--json]`: check a recorded trace and
 * summarise it (program, budget, events, misses, hits, writes, threads, distinct
 * pages, duration).  A damaged or truncated trace is refused with exit status 1.
 */
#include "cli/cli.h"
#include "farsight.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

int fs_cmd_trace(int argc, char **argv)
{
	if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		printf("usage: farsight trace info FILE [--json]\n\n"
		       "Checks a trace recorded by `farsight run --record FILE` (header, length,\n"
		       "checksum) and summarises it.  Format: docs/TRACE_FORMAT.md.\n");
		return 0;
	}
	if (argc < 3 || strcmp(argv[1], "info"))
		return fs_cli_usage_error("usage: farsight trace info FILE [--json]");
	int json = argc > 3 && !strcmp(argv[3], "--json");
	if (argc > 3 && !json)
		return fs_cli_usage_error("trace info: unknown option '%s'", argv[3]);
	fs_trace_info info;
	fs_event *ev;
	size_t n;
	char err[512];
	int rc = fs_trace_read(argv[2], &info, &ev, &n, err, sizeof(err));
	if (rc) {
		fprintf(stderr, "farsight: %s\n", err);
		return 1;
	}
	uint64_t hits = 0, writes = 0, threads = 0;
	uint64_t *pages = malloc((n ? n : 1) * sizeof(uint64_t));
	for (size_t i = 0; i < n; i++) {
		hits += ev[i].kind == FS_EV_HIT;
		writes += (ev[i].flags & FS_EVF_WRITE) != 0;
		if (ev[i].thread + 1u > threads)
			threads = ev[i].thread + 1u;
		pages[i] = ev[i].page;
	}
	qsort(pages, n, sizeof(uint64_t), cmp_u64);
	uint64_t distinct = 0;
	for (size_t i = 0; i < n; i++)
		distinct += i == 0 || pages[i] != pages[i - 1];
	double secs = n ? ev[n - 1].time_ns / 1e9 : 0;
	if (json) {
		printf("{\"version\": %u, \"events\": %zu, \"misses\": %llu, \"hits\": %llu, "
		       "\"writes\": %llu, \"threads\": %llu, \"distinct_pages\": %llu, "
		       "\"seconds\": %.6f, \"local_mem\": %llu, \"prefetch\": \"%s\", "
		       "\"command_hash\": %llu}\n",
		       info.version, n, (unsigned long long)(n - hits), (unsigned long long)hits,
		       (unsigned long long)writes, (unsigned long long)threads,
		       (unsigned long long)distinct, secs, (unsigned long long)info.local_mem,
		       info.prefetch, (unsigned long long)info.command_hash);
	} else {
		printf("trace %s (format version %u, checksum ok)\n", argv[2], info.version);
		printf("  command:  %s\n", info.command);
		printf("  recorded: prefetch %s, local budget %llu bytes\n", info.prefetch,
		       (unsigned long long)info.local_mem);
		printf("  events:   %zu (%llu misses, %llu prefetch hits), %llu writes\n", n,
		       (unsigned long long)(n - hits), (unsigned long long)hits,
		       (unsigned long long)writes);
		printf("  threads:  %llu; distinct pages: %llu (%.1f MiB); span %.3f s\n",
		       (unsigned long long)threads, (unsigned long long)distinct,
		       distinct * 4096.0 / (1 << 20), secs);
	}
	free(pages);
	free(ev);
	return 0;
}
