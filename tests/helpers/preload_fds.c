/*
 * preload_fds.c - a program that goes after the runtime's descriptors (test helper).
 *
 * Under farsight it finds the runtime's userfaultfd, memfd and eventfd in
 * /proc/self/fd and checks that they sit at high numbers with close-on-exec; that
 * close, dup2, dup3 and fcntl on them fail with EBADF, as for numbers that are not
 * open; that close_range and closefrom leave them open; then it puts a file of its own
 * on every low number the runtime used to take (3-9), works through far memory at a
 * budget far below its data (so the pager evicts, punches and writes back), and checks
 * both its data and its file.  Prints "fds ok" and exits 0, or names the first failed
 * check and exits 1.  Usage: preload_fds FILE MIB [raw].
 *
 * With `raw`, it then puts FILE on the runtime's userfaultfd and eventfd with raw
 * dup2 system calls (which no preload library sees) and goes on using far memory: the
 * runtime must stop it with a message (exit status 70) and never write into FILE.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define EXPECT_WHAT "fds"
#include "expect.h"

/* The runtime's descriptors, by what /proc/self/fd says they are. */
static int find(int *out, int max)
{
	int n = 0;
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	while (d && (e = readdir(d)) && n < max) {
		char p[300], l[256];
		snprintf(p, sizeof(p), "/proc/self/fd/%s", e->d_name);
		ssize_t k = readlink(p, l, sizeof(l) - 1);
		if (k <= 0)
			continue;
		l[k] = 0;
		if (strstr(l, "[userfaultfd]") || strstr(l, "farsight-arena") || strstr(l, "[eventfd]"))
			out[n++] = atoi(e->d_name);
	}
	if (d)
		closedir(d);
	return n;
}

static int still_open(int fd)
{
	char p[64];
	snprintf(p, sizeof(p), "/proc/self/fd/%d", fd);
	return access(p, F_OK) == 0;
}

static int cloexec(int fd)
{
	char p[64], line[256];
	snprintf(p, sizeof(p), "/proc/self/fdinfo/%d", fd);
	FILE *f = fopen(p, "r");
	unsigned flags = 0;
	while (f && fgets(line, sizeof(line), f))
		sscanf(line, "flags: %o", &flags);
	if (f)
		fclose(f);
	return (flags & O_CLOEXEC) != 0;
}

static unsigned char pat(size_t i, int round)
{
	return (unsigned char)((i * 131 + (i >> 12) * 7 + (size_t)round * 29 + 1) & 0xff);
}

int main(int argc, char **argv)
{
	if (argc < 3)
		return 2;
	int ours[16];
	int n = find(ours, 16);
	EXPECT(n >= 3, "found %d of the runtime's descriptors (userfaultfd, memfd, eventfd)", n);
	for (int i = 0; i < n; i++) {
		int fd = ours[i];
		EXPECT(fd >= 64, "the runtime's descriptor %d is a low number", fd);
		EXPECT(cloexec(fd), "descriptor %d is not close-on-exec", fd);
		errno = 0;
		EXPECT(close(fd) == -1 && errno == EBADF, "close(%d) was not refused", fd);
		EXPECT(dup2(0, fd) == -1 && errno == EBADF, "dup2(0, %d) was not refused", fd);
		EXPECT(dup3(0, fd, O_CLOEXEC) == -1 && errno == EBADF, "dup3(0, %d) was not refused", fd);
		EXPECT(dup2(fd, 0) == -1 && errno == EBADF, "dup2(%d, 0) was not refused", fd);
		EXPECT(fcntl(fd, F_GETFD) == -1 && errno == EBADF, "fcntl(%d) was not refused", fd);
		EXPECT(still_open(fd), "descriptor %d was closed", fd);
	}
	/* What ssh and daemons do with what they inherited. */
	int keep = open("/dev/null", O_RDONLY);
	EXPECT(close_range(3, ~0u, 0) == 0, "close_range: %s", strerror(errno));
	EXPECT(!still_open(keep), "close_range left the program's own descriptor %d open", keep);
	closefrom(3);
	for (int i = 0; i < n; i++)
		EXPECT(still_open(ours[i]), "close_range/closefrom closed the runtime's %d", ours[i]);

	/* A file of the program's own on every number the runtime used to hold. */
	int fd = open(argv[1], O_RDWR);
	EXPECT(fd >= 0, "open %s", argv[1]);
	for (int k = 3; k < 10; k++)
		if (k != fd)
			EXPECT(dup2(fd, k) == k, "dup2(%d, %d): %s", fd, k, strerror(errno));
	off_t size = lseek(fd, 0, SEEK_END);
	unsigned char *orig = malloc((size_t)size), *now = malloc((size_t)size);
	EXPECT(pread(fd, orig, (size_t)size, 0) == size, "read %s", argv[1]);

	/* Far memory at work: write, read back, twice, through evictions. */
	size_t len = (size_t)atoi(argv[2]) << 20;
	unsigned char *p = malloc(len);
	for (int round = 0; round < 2; round++) {
		for (size_t i = 0; i < len; i++)
			p[i] = pat(i, round);
		size_t bad = 0;
		for (size_t i = 0; i < len; i++)
			bad += p[i] != pat(i, round);
		EXPECT(bad == 0, "round %d: %zu of %zu bytes of far memory are wrong", round, bad, len);
	}
	EXPECT(pread(fd, now, (size_t)size, 0) == size && !memcmp(orig, now, (size_t)size),
	       "the program's own file changed");
	EXPECT(lseek(fd, 0, SEEK_CUR) == size, "the program's file offset moved");
	if (!fails)
		printf("fds ok\n");
	if (argc > 3 && !strcmp(argv[3], "raw")) {
		fflush(stdout);
		for (int i = 0; i < n; i++)
			syscall(SYS_dup2, fd, ours[i]);
		for (int round = 2; round < 6; round++) { /* far memory, and frees (commands) */
			for (size_t i = 0; i < len; i++)
				p[i] = pat(i, round);
			free(malloc(len / 2));
		}
		printf("not stopped\n");
		return 1;
	}
	return fails ? 1 : 0;
}
