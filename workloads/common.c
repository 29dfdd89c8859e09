/*
 * common.c - random numbers, checksums, timing and the result report shared by the
 * workloads (see wl.h for the output contract).
 */
#include "wl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* Separate streams (edge endpoints, weights, permutation, ...) come from one seed by
 * mixing the stream number in, so adding a stream never shifts another's numbers. */
void wl_rng_seed(wl_rng *r, uint64_t seed, uint64_t stream)
{
	uint64_t x = seed ^ (stream * 0xd1342543de82ef95ull);
	for (int i = 0; i < 4; i++)
		r->s[i] = splitmix64(&x);
}

uint64_t wl_fnv1a(const void *data, size_t len, uint64_t h)
{
	const unsigned char *p = data;
	for (size_t i = 0; i < len; i++) {
		h ^= p[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

double wl_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

void *wl_alloc(size_t bytes, const char *what)
{
	void *p = malloc(bytes ? bytes : 1);
	if (!p) {
		fprintf(stderr, "farsight-workloads: out of memory allocating %zu bytes for %s; "
				"try a smaller --size\n", bytes, what);
		exit(1);
	}
	return p;
}

/* Peak resident set (VmHWM): every page the workload touched and kept, heap and
 * library data alike.  Under far memory it still counts pages mapped at the peak. */
static long peak_rss_kib(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long kib = -1;
	if (!f)
		return -1;
	while (fgets(line, sizeof line, f))
		if (!strncmp(line, "VmHWM:", 6)) {
			kib = strtol(line + 6, NULL, 10);
			break;
		}
	fclose(f);
	return kib;
}

void wl_report(const wl_args *a, double gen_s, double kernel_s, uint64_t checksum)
{
	static const char *sizes[] = { "tiny", "small", "full" };
	fprintf(stderr, "time: generate %.3f s, kernel %.3f s, total %.3f s\n", gen_s, kernel_s,
		gen_s + kernel_s);
	fprintf(stderr, "footprint: peak RSS %.1f MiB (%s %s, seed %llu)\n",
		peak_rss_kib() / 1024.0, a->name, sizes[a->size], (unsigned long long)a->seed);
	fflush(stderr);
	printf("checksum: %016llx\n", (unsigned long long)checksum);
	fflush(stdout);
}
