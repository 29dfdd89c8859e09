/*
 * memd_churn.c - a test program for test_memd_run.sh: keeps a 32 MiB heap busy (writes
 * and reads back every page, checking each value, over and over) for the given number
 * of seconds, then prints a checksum; a wrong value exits 1 naming it.  Under `farsight run --local-mem 1M` almost every touch goes to far
 * memory, so killing memd in the middle must stop it with the backend's message.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

int main(int argc, char **argv)
{
	double secs = argc > 1 ? atof(argv[1]) : 1.0;
	size_t n = (32u << 20) / sizeof(uint64_t);
	uint64_t *a = malloc(n * sizeof(*a));
	if (!a)
		return 1;
	struct timespec t0, t;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	uint64_t sum = 0, round = 0;
	do {
		for (size_t i = 0; i < n; i += 512)
			a[i] = i * 2654435761u + round;
		for (size_t i = 0; i < n; i += 512) {
			if (a[i] != i * 2654435761u + round) { /* each value is checked, not summed only */
				fprintf(stderr, "memd_churn: word %zu of round %llu is wrong\n", i,
					(unsigned long long)round);
				return 1;
			}
			sum += a[i];
		}
		round++;
		clock_gettime(CLOCK_MONOTONIC, &t);
	} while ((double)(t.tv_sec - t0.tv_sec) + (double)(t.tv_nsec - t0.tv_nsec) * 1e-9 < secs);
	printf("rounds %llu checksum %llu\n", (unsigned long long)round, (unsigned long long)sum);
	free(a);
	return 0;
}
