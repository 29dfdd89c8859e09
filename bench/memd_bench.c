/*
 * memd_bench.c - the tcp backend + `farsight memd` against the limit, a bare TCP page
 * server on the same loopback, side by side in one run (a benchmark, not a test):
 *
 *   demand latency   one 4 KiB read at a time, request to data in the buffer: p50/p99
 *   pipelined        single-page reads, WINDOW in flight: pages/s
 *   demand under load  demand latency while 256-page prefetch reads stream on the same
 *                    backend: two connections (the default) vs one (FARSIGHT_TCP_ONE_CONN)
 *
 * The bare server answers each 24-byte request with 4 KiB from a static buffer and does
 * nothing else; the client side of it is plain blocking send/recv.  Both servers run as
 * child processes pinned like this process (all on --cpu N by default: on this VM a
 * cross-vCPU wake-up costs ~45 us, see the brief's machine.md; --cross puts the
 * servers on the other vCPU to show that cost).  The machine is shared: numbers are
 * noisy; compare the columns of one run, not runs of different days.
 *
 *   build/bench/memd_bench [--cpu N] [--cross] [--ops N]
 */
#include "backend/backend.h"
#include "common/util.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define WINDOW 64
#define HDR 24

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static void pct(uint64_t *v, int n, double *p50, double *p99)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_u64);
	*p50 = v[n / 2] / 1000.0;
	*p99 = v[(int)(n * 0.99)] / 1000.0;
}

static void pin(int cpu)
{
	cpu_set_t s;
	CPU_ZERO(&s);
	CPU_SET(cpu, &s);
	sched_setaffinity(0, sizeof(s), &s);
}

/* ---- the bare page server ---- */
static void bare_serve(int lfd)
{
	static char page[16 * 4096], in[65536];
	memset(page, 0xab, sizeof(page));
	for (;;) {
		int fd = accept(lfd, NULL, NULL);
		if (fd < 0)
			_exit(0);
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		size_t have = 0;
		for (;;) {
			ssize_t n = recv(fd, in + have, sizeof(in) - have, 0);
			if (n <= 0)
				break;
			have += (size_t)n;
			size_t reqs = have / HDR;
			memmove(in, in + reqs * HDR, have - reqs * HDR);
			have -= reqs * HDR;
			while (reqs) {
				size_t k = reqs > 16 ? 16 : reqs;
				if (send(fd, page, k * 4096, MSG_NOSIGNAL) < 0)
					break;
				reqs -= k;
			}
		}
		close(fd);
	}
}

static int listen_any(int *port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000001) };
	socklen_t l = sizeof(a);
	bind(fd, (struct sockaddr *)&a, sizeof(a));
	listen(fd, 4);
	getsockname(fd, (struct sockaddr *)&a, &l);
	*port = ntohs(a.sin_port);
	return fd;
}

static int connect_port(int port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				 .sin_addr.s_addr = htonl(0x7f000001) };
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)))
		return -1;
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

static void bare_demand(int port, int ops, double *p50, double *p99)
{
	int fd = connect_port(port);
	char req[HDR] = { 1 }, page[4096];
	uint64_t *lat = malloc(sizeof(uint64_t) * (size_t)ops);
	for (int i = 0; i < ops; i++) {
		uint64_t t0 = fs_now_ns();
		if (send(fd, req, HDR, 0) != HDR || recv(fd, page, 4096, MSG_WAITALL) != 4096)
			break;
		lat[i] = fs_now_ns() - t0;
	}
	pct(lat, ops, p50, p99);
	free(lat);
	close(fd);
}

static double bare_pipelined(int port, int pages)
{
	int fd = connect_port(port);
	static char reqs[WINDOW * HDR], buf[1 << 18];
	uint64_t t0 = fs_now_ns();
	long sent = 0, got_bytes = 0, want = (long)pages * 4096;
	while (got_bytes < want) {
		long inflight = sent - got_bytes / 4096;
		long k = FS_MIN((long)WINDOW - inflight, (long)pages - sent);
		if (k > 0 && send(fd, reqs, (size_t)k * HDR, 0) == k * HDR)
			sent += k;
		ssize_t n = recv(fd, buf, sizeof(buf), 0);
		if (n <= 0)
			break;
		got_bytes += n;
	}
	double secs = (fs_now_ns() - t0) / 1e9;
	close(fd);
	return pages / secs;
}

/* ---- memd through the tcp backend ---- */
static fs_backend *open_tcp(int port)
{
	fs_config cfg;
	char err[256];
	fs_config_from_env(&cfg, err, sizeof(err));
	snprintf(cfg.backend, sizeof(cfg.backend), "tcp://127.0.0.1:%d", port);
	cfg.secret_file[0] = 0;
	fs_backend *b;
	if (fs_backend_open(&cfg, &b, err, sizeof(err))) {
		fprintf(stderr, "memd_bench: %s\n", err);
		exit(1);
	}
	return b;
}

static void must(int ok, fs_backend *b)
{
	if (!ok) {
		fprintf(stderr, "memd_bench: backend error: %s\n", b->errmsg);
		exit(1);
	}
}

#define NPAGES 8192
static unsigned char *frames;

static void fill_pages(fs_backend *b)
{
	for (int p = 0; p < NPAGES; p += 256) {
		fs_io w = { .page = (uint64_t)p, .npages = 256, .buf = frames + (size_t)p * 4096 };
		fs_io_done d[4];
		must(b->ops->submit_write(b, &w, 1) == 1, b);
		must(b->ops->poll(b, d, 4, -1) == 1 && !d[0].status, b);
	}
}

static void memd_demand(fs_backend *b, int ops, double *p50, double *p99)
{
	uint64_t *lat = malloc(sizeof(uint64_t) * (size_t)ops);
	for (int i = 0; i < ops; i++) {
		uint64_t page = (uint64_t)(i * 7919) % NPAGES;
		fs_io r = { .page = page, .npages = 1, .flags = FS_IO_DEMAND,
			    .buf = frames + page * 4096, .tag = (uint64_t)i };
		fs_io_done d[1];
		uint64_t t0 = fs_now_ns();
		must(b->ops->submit_read(b, &r, 1) == 1, b);
		must(b->ops->poll(b, d, 1, -1) == 1 && !d[0].status, b);
		lat[i] = fs_now_ns() - t0;
	}
	pct(lat, ops, p50, p99);
	free(lat);
}

static double memd_pipelined(fs_backend *b, int pages)
{
	uint64_t t0 = fs_now_ns();
	int sent = 0, done = 0;
	fs_io ios[WINDOW];
	fs_io_done d[WINDOW];
	while (done < pages) {
		int k = FS_MIN(WINDOW - (sent - done), pages - sent);
		for (int i = 0; i < k; i++) {
			uint64_t page = (uint64_t)(sent + i) % NPAGES;
			ios[i] = (fs_io){ .page = page, .npages = 1, .flags = FS_IO_PREFETCH,
					  .buf = frames + page * 4096 };
		}
		if (k > 0) {
			int r = b->ops->submit_read(b, ios, k);
			must(r >= 0, b);
			sent += r;
		}
		int got = b->ops->poll(b, d, WINDOW, -1);
		must(got >= 0, b);
		done += got;
	}
	return pages / ((fs_now_ns() - t0) / 1e9);
}

/* Demand reads while 256-page prefetch reads keep streaming (4 in flight). */
static void memd_demand_loaded(fs_backend *b, int ops, double *p50, double *p99)
{
	static unsigned char sink[4][256 * 4096];
	uint64_t *lat = malloc(sizeof(uint64_t) * (size_t)ops);
	int inflight = 0;
	fs_io_done d[8];
	for (int i = 0; i < ops; i++) {
		while (inflight < 4) {
			fs_io p = { .page = (uint64_t)(inflight * 256), .npages = 256,
				    .flags = FS_IO_PREFETCH, .buf = sink[inflight], .tag = 1 };
			must(b->ops->submit_read(b, &p, 1) == 1, b);
			inflight++;
		}
		uint64_t page = 4096 + (uint64_t)(i * 7919) % 4096;
		fs_io r = { .page = page, .npages = 1, .flags = FS_IO_DEMAND,
			    .buf = frames + page * 4096, .tag = 2 };
		uint64_t t0 = fs_now_ns();
		must(b->ops->submit_read(b, &r, 1) == 1, b);
		for (int found = 0; !found;) {
			int got = b->ops->poll(b, d, 8, -1);
			must(got > 0, b);
			for (int k = 0; k < got; k++) {
				must(!d[k].status, b);
				if (d[k].tag == 2)
					found = 1;
				else
					inflight--;
			}
		}
		lat[i] = fs_now_ns() - t0;
	}
	while (inflight > 0) {
		int got = b->ops->poll(b, d, 8, -1);
		must(got > 0, b);
		inflight -= got;
	}
	pct(lat, ops, p50, p99);
	free(lat);
}

static pid_t start_memd(const char *bin, int *port)
{
	char portfile[64];
	snprintf(portfile, sizeof(portfile), "/tmp/memd_bench.%d.port", (int)getpid());
	unlink(portfile);
	pid_t pid = fork();
	if (pid == 0) {
		execl(bin, bin, "memd", "--listen", "127.0.0.1:0", "--port-file", portfile, NULL);
		_exit(127);
	}
	for (int i = 0; i < 500; i++) {
		FILE *f = fopen(portfile, "r");
		if (f && fscanf(f, "%d", port) == 1 && *port > 0) {
			fclose(f);
			return pid;
		}
		if (f)
			fclose(f);
		usleep(10000);
	}
	fprintf(stderr, "memd_bench: could not start %s memd\n", bin);
	exit(1);
}

int main(int argc, char **argv)
{
	int cpu = 0, cross = 0, ops = 20000;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--cpu") && i + 1 < argc)
			cpu = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--cross"))
			cross = 1;
		else if (!strcmp(argv[i], "--ops") && i + 1 < argc)
			ops = atoi(argv[++i]);
		else {
			fprintf(stderr, "usage: memd_bench [--cpu N] [--cross] [--ops N]\n");
			return 2;
		}
	}
	char bin[4096];
	ssize_t n = readlink("/proc/self/exe", bin, sizeof(bin) - 32);
	if (n <= 0)
		return 1;
	bin[n] = 0;
	*strrchr(bin, '/') = 0;
	strcat(bin, "/../farsight");
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	int scpu = cross ? (cpu + 1) % (int)ncpu : cpu;

	/* Servers first, pinned to scpu (children inherit the affinity). */
	pin(scpu);
	int bport, mport;
	int lfd = listen_any(&bport);
	pid_t bare = fork();
	if (bare == 0)
		bare_serve(lfd);
	close(lfd);
	pid_t memd = start_memd(bin, &mport);
	pin(cpu);

	printf("memd_bench: client on CPU %d, servers on CPU %d (%s); %d demand reads, "
	       "window %d for pipelined reads\n",
	       cpu, scpu, cross ? "cross-vCPU: every wake-up pays ~45 us here" : "same vCPU",
	       ops, WINDOW);
	printf("memd_bench: shared 2-vCPU machine - numbers are noisy; compare columns of one run\n");
	frames = aligned_alloc(4096, (size_t)NPAGES * 4096);
	memset(frames, 0x5a, (size_t)NPAGES * 4096);

	double bp50, bp99, mp50, mp99, lp50_2, lp99_2, lp50_1, lp99_1;
	bare_demand(bport, ops, &bp50, &bp99);
	double bpps = bare_pipelined(bport, ops * 10);

	fs_backend *b = open_tcp(mport);
	fill_pages(b);
	memd_demand(b, ops, &mp50, &mp99);
	double mpps = memd_pipelined(b, ops * 10);
	memd_demand_loaded(b, ops / 10, &lp50_2, &lp99_2);
	b->ops->close(b);

	setenv("FARSIGHT_TCP_ONE_CONN", "1", 1);
	b = open_tcp(mport);
	fill_pages(b);
	memd_demand_loaded(b, ops / 10, &lp50_1, &lp99_1);
	b->ops->close(b);

	printf("\n%-34s %12s %12s %8s\n", "", "bare TCP", "memd+tcp", "ratio");
	printf("%-34s %12.1f %12.1f %8.2f\n", "demand read latency p50 (us)", bp50, mp50, mp50 / bp50);
	printf("%-34s %12.1f %12.1f %8.2f\n", "demand read latency p99 (us)", bp99, mp99, mp99 / bp99);
	printf("%-34s %12.0f %12.0f %8.2f\n", "pipelined 4 KiB reads (pages/s)", bpps, mpps, mpps / bpps);
	printf("\ndemand read under a 256-page prefetch stream (memd+tcp):\n");
	printf("%-34s %12s %12s\n", "", "2 conns", "1 conn");
	printf("%-34s %12.1f %12.1f\n", "latency p50 (us)", lp50_2, lp50_1);
	printf("%-34s %12.1f %12.1f\n", "latency p99 (us)", lp99_2, lp99_1);

	kill(memd, SIGTERM);
	kill(bare, SIGTERM);
	waitpid(memd, NULL, 0);
	waitpid(bare, NULL, 0);
	return 0;
}
