/*
 * preload_threads.c - more threads faulting at once than the local budget has pages
 * (test helper).  Usage: preload_threads THREADS PAGES ROUNDS.
 *
 * Every thread allocates PAGES pages, and all start together (a barrier), so that a
 * batch of faults holds more demand reads than a small budget has pages; then each
 * writes its pages with a pattern of its own and, ROUNDS times, checks and rewrites
 * them.  Prints "threads ok" and exits 0, or names the first wrong byte and exits 1.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EXPECT_WHAT "threads"
#include "expect.h"

static int pages, rounds;
static pthread_barrier_t start;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

static unsigned char pat(long t, size_t i, int r)
{
	return (unsigned char)(t * 37 + i * 11 + (i >> 12) * 5 + (size_t)r * 3 + 1);
}

static void *worker(void *arg)
{
	long t = (long)arg;
	size_t len = (size_t)pages * 4096;
	unsigned char *p = malloc(len);
	pthread_barrier_wait(&start);
	for (size_t i = 0; i < len; i++)
		p[i] = pat(t, i, 0);
	for (int r = 1; r <= rounds; r++)
		for (size_t i = 0; i < len; i++) {
			if (p[i] != pat(t, i, r - 1)) {
				pthread_mutex_lock(&mu);
				EXPECT(0, "thread %ld round %d byte %zu: %u, not %u", t, r, i, p[i],
				       pat(t, i, r - 1));
				pthread_mutex_unlock(&mu);
				return NULL;
			}
			p[i] = pat(t, i, r);
		}
	free(p);
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc < 4)
		return 2;
	int n = atoi(argv[1]);
	pages = atoi(argv[2]);
	rounds = atoi(argv[3]);
	pthread_t th[1024];
	if (n < 1 || n > 1024)
		return 2;
	pthread_barrier_init(&start, NULL, (unsigned)n);
	for (long t = 0; t < n; t++)
		pthread_create(&th[t], NULL, worker, (void *)t);
	for (int t = 0; t < n; t++)
		pthread_join(th[t], NULL);
	if (!fails)
		printf("threads ok\n");
	return fails ? 1 : 0;
}
