/*
 * preload_mmap.c - a program with its own mmap-based heap (test helper for the shim).
 *
 * Checks the mmap family the way an allocator uses it: a large private anonymous
 * mapping written with a pattern; munmap of a range in its middle (the rest keeps its
 * contents); madvise(MADV_DONTNEED) then the range reads as zeros; mremap grow with
 * MREMAP_MAYMOVE keeps the contents and the new tail is zero; mremap shrink in place;
 * mmap(MAP_FIXED) of fresh anonymous memory over part of a mapping reads zeros; a
 * MAP_STACK mapping and a PROT_NONE reservation work as usual.  Prints "mmap ok" and
 * exits 0, or names the first failed check and exits 1.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define MIB (1u << 20)
#define EXPECT_WHAT "mmap"
#include "expect.h"

static unsigned char pat(size_t i)
{
	return (unsigned char)((i * 7 + (i >> 12) * 13 + 1) & 0xff);
}

static size_t first_bad(const unsigned char *p, size_t from, size_t to, int zero)
{
	for (size_t i = from; i < to; i++)
		if (p[i] != (zero ? 0 : pat(i)))
			return i;
	return (size_t)-1;
}

int main(int argc, char **argv)
{
	size_t len = (size_t)(argc > 1 ? atoi(argv[1]) : 64) * MIB;
	size_t pg = (size_t)sysconf(_SC_PAGESIZE);
	unsigned char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	EXPECT(p != MAP_FAILED, "mmap %zu", len);
	if (p == MAP_FAILED)
		return 1;
	EXPECT(first_bad(p, 0, len, 1) == (size_t)-1, "fresh mapping is not zero");
	for (size_t i = 0; i < len; i++)
		p[i] = pat(i);
	EXPECT(first_bad(p, 0, len, 0) == (size_t)-1, "pattern after first write");

	/* munmap a range in the middle; both sides keep their bytes. */
	size_t hole = len / 4, hole_len = 4 * MIB;
	EXPECT(munmap(p + hole, hole_len) == 0, "munmap middle");
	EXPECT(first_bad(p, 0, hole, 0) == (size_t)-1, "left of the hole");
	EXPECT(first_bad(p, hole + hole_len, len, 0) == (size_t)-1, "right of the hole");
	/* Unmapping it again is harmless, as with the kernel. */
	EXPECT(munmap(p + hole, hole_len) == 0, "second munmap of the hole");

	/* madvise(DONTNEED): zeros afterwards, neighbours untouched; then reusable. */
	size_t d = len / 2, d_len = 2 * MIB + 3 * pg;
	EXPECT(madvise(p + d, d_len, MADV_DONTNEED) == 0, "madvise DONTNEED");
	EXPECT(first_bad(p, d, d + d_len, 1) == (size_t)-1, "DONTNEED range is not zero");
	EXPECT(first_bad(p, hole + hole_len, d, 0) == (size_t)-1, "before the DONTNEED range");
	EXPECT(first_bad(p, d + d_len, len, 0) == (size_t)-1, "after the DONTNEED range");
	for (size_t i = d; i < d + d_len; i++)
		p[i] = pat(i);
	EXPECT(madvise(p, len / 8, MADV_WILLNEED) == 0, "madvise WILLNEED");

	/* mremap grow (may move): contents kept, the new tail reads zero. */
	size_t tail_off = hole + hole_len, tail_len = len - tail_off;
	unsigned char *t = p + tail_off;
	unsigned char *g = mremap(t, tail_len, tail_len + 8 * MIB, MREMAP_MAYMOVE);
	EXPECT(g != MAP_FAILED, "mremap grow");
	if (g != MAP_FAILED) {
		for (size_t i = 0; i < tail_len; i++)
			if (g[i] != pat(tail_off + i)) {
				EXPECT(0, "mremap grow lost byte %zu", i);
				break;
			}
		for (size_t i = tail_len; i < tail_len + 8 * MIB; i++)
			if (g[i]) {
				EXPECT(0, "mremap grow: new byte %zu is not zero", i);
				break;
			}
		/* Shrink in place. */
		unsigned char *s = mremap(g, tail_len + 8 * MIB, pg * 3, 0);
		EXPECT(s == g, "mremap shrink stays in place");
		EXPECT(s[0] == pat(tail_off) && s[pg * 3 - 1] == pat(tail_off + pg * 3 - 1),
		       "mremap shrink keeps bytes");
		EXPECT(munmap(s, pg * 3) == 0, "munmap after mremap");
	}

	/* MAP_FIXED fresh memory over part of the head: zeros there, the rest intact. */
	unsigned char *f = mmap(p + pg, 2 * pg, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	EXPECT(f == p + pg, "MAP_FIXED over own mapping");
	EXPECT(first_bad(p, pg, 3 * pg, 1) == (size_t)-1, "MAP_FIXED range is not zero");
	EXPECT(first_bad(p, 0, pg, 0) == (size_t)-1 && first_bad(p, 3 * pg, hole, 0) == (size_t)-1,
	       "MAP_FIXED neighbours");
	EXPECT(munmap(p, hole) == 0, "munmap head");

	/* A stack mapping and a PROT_NONE reservation with a MAP_FIXED commit inside. */
	unsigned char *st = mmap(NULL, MIB, PROT_READ | PROT_WRITE,
				 MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
	EXPECT(st != MAP_FAILED, "MAP_STACK");
	if (st != MAP_FAILED) {
		memset(st, 1, MIB);
		munmap(st, MIB);
	}
	unsigned char *r = mmap(NULL, 16 * MIB, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
				-1, 0);
	EXPECT(r != MAP_FAILED, "PROT_NONE reservation");
	if (r != MAP_FAILED) {
		unsigned char *c = mmap(r + MIB, MIB, PROT_READ | PROT_WRITE,
					MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
		EXPECT(c == r + MIB, "MAP_FIXED inside a reservation");
		if (c == r + MIB) {
			memset(c, 2, MIB);
			EXPECT(c[MIB - 1] == 2, "reservation commit holds data");
		}
		EXPECT(munmap(r, 16 * MIB) == 0, "munmap reservation");
	}
	if (fails) {
		printf("mmap FAILED (%d checks)\n", fails);
		return 1;
	}
	printf("mmap ok\n");
	return 0;
}
