/*
 * testlib.h - the tiny test harness every tests/test_*.c uses.
 *
 * A test file is a standalone program: TEST(name) functions registered with RUN(name)
 * in main(); CHECK* macros record a failure with file:line and go on; the program exits
 * 0 only if every check held.  tests/run.sh runs all of them and prints the closing
 * "N passed, N failed" line.  TEST_ONLY=name runs just that test of a file (when
 * chasing one failure: build/tests/test_runtime takes ~20 s in all).
 */
#ifndef FS_TESTLIB_H
#define FS_TESTLIB_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>

static int tl_failures;
static int tl_checks;
static const char *tl_current;

#define CHECK(cond)                                                                   \
	do {                                                                          \
		tl_checks++;                                                          \
		if (!(cond)) {                                                        \
			tl_failures++;                                                \
			fprintf(stderr, "  FAIL %s:%d [%s]: %s\n", __FILE__, __LINE__, \
				tl_current, #cond);                                   \
		}                                                                     \
	} while (0)

#define CHECK_EQ_U64(a, b)                                                              \
	do {                                                                            \
		unsigned long long tl_a = (unsigned long long)(a),                      \
				   tl_b = (unsigned long long)(b);                      \
		tl_checks++;                                                            \
		if (tl_a != tl_b) {                                                     \
			tl_failures++;                                                  \
			fprintf(stderr, "  FAIL %s:%d [%s]: %s == %s (%llu != %llu)\n",  \
				__FILE__, __LINE__, tl_current, #a, #b, tl_a, tl_b);    \
		}                                                                       \
	} while (0)

#define CHECK_NEAR(a, b, tol)                                                            \
	do {                                                                             \
		double tl_a = (a), tl_b = (b);                                           \
		tl_checks++;                                                             \
		if (!(fabs(tl_a - tl_b) <= (tol))) {                                     \
			tl_failures++;                                                   \
			fprintf(stderr, "  FAIL %s:%d [%s]: %s ~ %s (%g vs %g)\n",        \
				__FILE__, __LINE__, tl_current, #a, #b, tl_a, tl_b);     \
		}                                                                        \
	} while (0)

#define CHECK_STR_CONTAINS(hay, needle)                                                  \
	do {                                                                             \
		tl_checks++;                                                             \
		const char *tl_h = (hay);                                              \
		if (!tl_h || !strstr(tl_h, (needle))) {                                \
			tl_failures++;                                                   \
			fprintf(stderr, "  FAIL %s:%d [%s]: \"%s\" does not contain \"%s\"\n", \
				__FILE__, __LINE__, tl_current, tl_h ? tl_h : "(null)", \
				(needle));                                               \
		}                                                                        \
	} while (0)

#define TEST(name) static void name(void)
#define RUN(name)                                                                        \
	do {                                                                             \
		int tl_before = tl_failures;                                             \
		const char *tl_only = getenv("TEST_ONLY");                               \
		if (tl_only && strcmp(tl_only, #name) != 0)                              \
			break;                                                           \
		tl_current = #name;                                                      \
		name();                                                                  \
		printf("%s %s\n", tl_failures == tl_before ? "ok  " : "FAIL", #name);    \
		fflush(stdout);                                                          \
	} while (0)
#define TEST_EXIT() (tl_failures ? 1 : 0)

#endif
