/*
 * preload_stress.c - multi-threaded heap stress for the preload shim (test helper).
 *
 * usage: preload_stress THREADS MIB_PER_THREAD ROUNDS
 *
 * Every thread owns a table of blocks whose sizes mix small (16-1024 B), medium
 * (4-64 KiB) and large (256 KiB-1 MiB) requests, allocated with malloc, calloc,
 * realloc and posix_memalign.  Each block is filled with a pattern derived from its
 * slot and generation; before a block is freed or resized, and at the end, the pattern
 * is checked.  calloc'd blocks must read zero, aligned blocks must be aligned, and
 * malloc_usable_size must cover the request.  Live data is about THREADS x MIB, so a
 * small FARSIGHT_LOCAL_MEM makes the blocks travel to far memory and back.
 * Prints "stress ok <checksum>" and exits 0, or names the first mismatch and exits 1.
 * Built standalone (no libfarsight): it must behave the same with and without preload.
 */
#include <malloc.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct block {
	unsigned char *p;
	size_t n;
	uint32_t gen;
};

struct worker {
	int id;
	size_t budget;
	int rounds;
	uint64_t checksum;
	int failed;
};

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static unsigned char pat(int tid, size_t slot, uint32_t gen, size_t i)
{
	return (unsigned char)((tid * 131u + slot * 31u + gen * 7u + i * 13u + (i >> 12)) & 0xff);
}

static void fill(struct block *b, int tid, size_t slot, size_t from)
{
	for (size_t i = from; i < b->n; i++)
		b->p[i] = pat(tid, slot, b->gen, i);
}

static int verify(struct worker *w, struct block *b, size_t slot, size_t upto, const char *when)
{
	for (size_t i = 0; i < upto; i++) {
		if (b->p[i] != pat(w->id, slot, b->gen, i)) {
			fprintf(stderr, "thread %d slot %zu: byte %zu of %zu is %d, expected %d (%s)\n",
				w->id, slot, i, b->n, b->p[i], pat(w->id, slot, b->gen, i), when);
			w->failed = 1;
			return 0;
		}
		w->checksum = w->checksum * 1099511628211ull + b->p[i];
	}
	return 1;
}

static size_t pick_size(uint64_t *s)
{
	uint64_t r = rnd(s) % 100;
	if (r < 70)
		return 16 + rnd(s) % 1009;
	if (r < 95)
		return 4096 + rnd(s) % (60 << 10);
	return (256 << 10) + rnd(s) % (768 << 10);
}

static void *work(void *arg)
{
	struct worker *w = arg;
	uint64_t seed = 0x9e3779b97f4a7c15ull * (uint64_t)(w->id + 1);
	size_t nslots = 4096;
	struct block *t = calloc(nslots, sizeof(*t));
	size_t live = 0;
	for (int round = 0; round < w->rounds && !w->failed; round++) {
		for (size_t op = 0; op < nslots * 2 && !w->failed; op++) {
			size_t slot = rnd(&seed) % nslots;
			struct block *b = &t[slot];
			if (b->p) {
				if (rnd(&seed) & 1) {
					verify(w, b, slot, b->n, "before free");
					free(b->p);
					live -= b->n;
					b->p = NULL;
				} else { /* realloc: the common prefix survives */
					size_t n = pick_size(&seed);
					if (live - b->n + n > w->budget)
						continue;
					unsigned char *q = realloc(b->p, n);
					if (!q) {
						fprintf(stderr, "realloc(%zu) failed\n", n);
						w->failed = 1;
						break;
					}
					b->p = q;
					verify(w, b, slot, b->n < n ? b->n : n, "after realloc");
					size_t old = b->n;
					live = live - old + n;
					b->n = n;
					fill(b, w->id, slot, old < n ? old : n);
				}
				continue;
			}
			size_t n = pick_size(&seed);
			if (live + n > w->budget)
				continue;
			int how = (int)(rnd(&seed) % 3);
			if (how == 0) {
				b->p = malloc(n);
			} else if (how == 1) {
				b->p = calloc(1, n);
				for (size_t i = 0; b->p && i < n; i++)
					if (b->p[i]) {
						fprintf(stderr, "calloc(%zu): byte %zu is %d\n", n, i, b->p[i]);
						w->failed = 1;
						break;
					}
			} else {
				size_t align = (size_t)1 << (4 + rnd(&seed) % 10); /* 16 B .. 8 KiB */
				void *p = NULL;
				if (posix_memalign(&p, align, n) || ((uintptr_t)p & (align - 1))) {
					fprintf(stderr, "posix_memalign(%zu, %zu) = %p\n", align, n, p);
					w->failed = 1;
				}
				b->p = p;
			}
			if (!b->p) {
				fprintf(stderr, "allocation of %zu bytes failed\n", n);
				w->failed = 1;
				break;
			}
			if (malloc_usable_size(b->p) < n) {
				fprintf(stderr, "malloc_usable_size %zu < %zu\n", malloc_usable_size(b->p), n);
				w->failed = 1;
			}
			b->n = n;
			b->gen++;
			live += n;
			fill(b, w->id, slot, 0);
		}
		/* A full pass over everything: pages come back from far memory. */
		for (size_t s = 0; s < nslots && !w->failed; s++)
			if (t[s].p)
				verify(w, &t[s], s, t[s].n, "full pass");
	}
	for (size_t s = 0; s < nslots; s++)
		free(t[s].p);
	free(t);
	return NULL;
}

int main(int argc, char **argv)
{
	int threads = argc > 1 ? atoi(argv[1]) : 4;
	size_t mib = argc > 2 ? (size_t)atoi(argv[2]) : 16;
	int rounds = argc > 3 ? atoi(argv[3]) : 3;
	struct worker *w = calloc((size_t)threads, sizeof(*w));
	pthread_t *th = calloc((size_t)threads, sizeof(*th));
	for (int i = 0; i < threads; i++) {
		w[i].id = i;
		w[i].budget = mib << 20;
		w[i].rounds = rounds;
		if (pthread_create(&th[i], NULL, work, &w[i])) {
			fprintf(stderr, "pthread_create failed\n");
			return 1;
		}
	}
	uint64_t sum = 0;
	int failed = 0;
	for (int i = 0; i < threads; i++) {
		pthread_join(th[i], NULL);
		sum ^= w[i].checksum;
		failed |= w[i].failed;
	}
	if (failed) {
		printf("stress FAILED\n");
		return 1;
	}
	printf("stress ok %016llx\n", (unsigned long long)sum);
	free(w);
	free(th);
	return 0;
}
