/*
 * expect.h - the check macro of the test helper programs in tests/helpers: EXPECT
 * prints "WHAT check failed: ..." on stderr and counts; the program then names every
 * failed check and exits 1.  Define EXPECT_WHAT before including it.
 */
#ifndef FS_EXPECT_H
#define FS_EXPECT_H

#include <stdio.h>

static int fails;

#define EXPECT(cond, ...)                                                        \
	do {                                                                     \
		if (!(cond)) {                                                   \
			fprintf(stderr, EXPECT_WHAT " check failed: " __VA_ARGS__); \
			fprintf(stderr, "\n");                                   \
			fails++;                                                 \
		}                                                                \
	} while (0)

#endif
