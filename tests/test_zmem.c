/*
 * test_zmem.c - the compressed in-process backend through the backend interface: every
 * kind of page comes back byte for byte (random, compressible, same-filled, zero, with
 * lz4 and zstd), same-filled pages take no slab memory, discarded pages give their
 * memory back to the kernel (the process's RSS falls), compaction frees sparse slabs,
 * demand reads complete before queued prefetches, a queued read returns the data of
 * its submission, and errors are sentences.  The many-threads integrity stress on zmem
 * is in test_runtime.c (stress_zmem); the whole process's RSS under the runtime is
 * checked here against the mem backend's.
 */
#include "testlib.h"
#include "backend/backend.h"
#include "helpers/backend_io.h"
#include "helpers/churn.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#define PG FS_PAGE_SIZE

static fs_backend *open_zmem(const char *spec)
{
	fs_config cfg;
	char err[256];
	fs_config_from_env(&cfg, err, sizeof(err));
	cfg.arena_size = 256ull << 20;
	snprintf(cfg.backend, sizeof(cfg.backend), "%s", spec);
	fs_backend *b = NULL;
	int rc = fs_backend_open(&cfg, &b, err, sizeof(err));
	if (rc)
		fprintf(stderr, "  open %s: %s\n", spec, err);
	return b;
}

/* Page p of kind k (0 random, 1 compressible, 2 same-filled, 3 zero), version v. */
static void fill(void *buf, uint64_t p, int k, uint32_t v)
{
	uint64_t *w = buf;
	for (size_t i = 0; i < PG / 8; i++) {
		uint64_t x = churn_mix(p * 512 + i + ((uint64_t)v << 40));
		w[i] = k == 0 ? x : k == 1 ? x % 13 : k == 2 ? churn_mix(p + v) : 0;
	}
}

static int wr(fs_backend *b, uint64_t page, uint32_t n, void *buf)
{
	return run_io(b, page, n, buf, FS_IO_WRITEBACK, 1);
}

static int rd(fs_backend *b, uint64_t page, uint32_t n, void *buf, uint32_t flags)
{
	return run_io(b, page, n, buf, flags, 0);
}

static void round_trip(const char *spec)
{
	fs_backend *b = open_zmem(spec);
	CHECK(b != NULL);
	if (!b)
		return;
	enum { N = 1024 }; /* 256 of each kind, written in runs of up to 256 pages */
	unsigned char *buf = malloc((size_t)N * PG), *back = malloc((size_t)N * PG);
	for (uint64_t p = 0; p < N; p++)
		fill(buf + p * PG, p, (int)(p % 4), 1);
	for (uint64_t p = 0; p < N;) {
		uint32_t n = (uint32_t)(1 + p % 256);
		if (p + n > N)
			n = (uint32_t)(N - p);
		CHECK(wr(b, p, n, buf + p * PG) == 0);
		p += n;
	}
	CHECK(rd(b, 0, 256, back, FS_IO_PREFETCH) == 0);
	for (uint64_t p = 256; p < N; p++)
		CHECK(rd(b, p, 1, back + p * PG, (p & 1) ? FS_IO_DEMAND : FS_IO_PREFETCH) == 0);
	size_t wrong = 0;
	for (size_t i = 0; i < (size_t)N * PG; i++)
		wrong += buf[i] != back[i];
	CHECK_EQ_U64(wrong, 0);
	CHECK_EQ_U64(stat_of(b, "pages_held"), N);
	CHECK_EQ_U64(stat_of(b, "same_filled_pages"), N / 2); /* kinds 2 and 3 */
	CHECK_EQ_U64(stat_of(b, "zero_pages"), N / 4);
	CHECK_EQ_U64(stat_of(b, "raw_pages"), N / 4); /* random pages do not compress */
	/* 256 compressible pages (~2.8x with lz4) among 512 objects, 256 of them raw */
	CHECK(stat_of(b, "compression_ratio") > 1.3);
	CHECK(stat_of(b, "compress_ns_per_page") > 0);
	CHECK(stat_of(b, "decompress_ns_per_page") > 0);
	/* Overwrite every page with another kind: the old objects are freed. */
	for (uint64_t p = 0; p < N; p++)
		fill(buf + p * PG, p, (int)((p + 1) % 4), 2);
	CHECK(wr(b, 0, 256, buf) == 0);
	CHECK(wr(b, 256, 256, buf + 256 * PG) == 0);
	CHECK(wr(b, 512, 256, buf + 512 * PG) == 0);
	CHECK(wr(b, 768, 256, buf + 768 * PG) == 0);
	CHECK(rd(b, 0, 256, back, FS_IO_DEMAND) == 0);
	CHECK(rd(b, 256, 256, back + 256 * PG, FS_IO_PREFETCH) == 0);
	CHECK(rd(b, 512, 256, back + 512 * PG, FS_IO_DEMAND) == 0);
	CHECK(rd(b, 768, 256, back + 768 * PG, FS_IO_PREFETCH) == 0);
	wrong = 0;
	for (size_t i = 0; i < (size_t)N * PG; i++)
		wrong += buf[i] != back[i];
	CHECK_EQ_U64(wrong, 0);
	CHECK_EQ_U64(stat_of(b, "pages_held"), N);
	b->ops->close(b);
	free(buf);
	free(back);
}

TEST(every_kind_of_page_comes_back_lz4) { round_trip("zmem"); }
TEST(every_kind_of_page_comes_back_zstd) { round_trip("zmem?compressor=zstd"); }

TEST(same_filled_pages_take_no_slab_memory)
{
	fs_backend *b = open_zmem("zmem");
	unsigned char *buf = malloc(256 * PG);
	for (int k = 0; k < 256; k++)
		memset(buf + k * PG, k, PG); /* 0x00..., 0x01..., 0xff... */
	for (int r = 0; r < 8; r++)
		CHECK(wr(b, (uint64_t)r * 256, 256, buf) == 0);
	CHECK_EQ_U64(stat_of(b, "same_filled_pages"), 2048);
	CHECK_EQ_U64(stat_of(b, "zero_pages"), 8);
	/* Only their 16-byte entries: no slab was touched. */
	CHECK_EQ_U64(stat_of(b, "held_bytes"), 2048 * 16);
	unsigned char *back = malloc(256 * PG);
	CHECK(rd(b, 1792, 256, back, FS_IO_PREFETCH) == 0);
	CHECK(memcmp(back, buf, 256 * PG) == 0);
	b->ops->close(b);
	free(buf);
	free(back);
}

/* Resident anonymous memory of this process, bytes (/proc/self/status RssAnon).
 * ThreadSanitizer's shadow memory grows with every byte touched, so under it RSS says
 * nothing about the store: the RSS checks are skipped there (RSS_CHECKS 0). */
#if defined(__SANITIZE_THREAD__)
#define RSS_CHECKS 0
#else
#define RSS_CHECKS 1
#endif
static uint64_t rss_anon(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	uint64_t kb = 0;
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "RssAnon: %lu kB", &kb) == 1)
			break;
	if (f)
		fclose(f);
	return kb * 1024;
}

TEST(discarded_pages_give_memory_back)
{
	fs_backend *b = open_zmem("zmem");
	enum { N = 8192 }; /* 32 MiB of compressible pages */
	unsigned char *buf = malloc(256 * PG);
	uint64_t before = rss_anon();
	for (uint64_t p = 0; p < N; p += 256) {
		for (int k = 0; k < 256; k++)
			fill(buf + k * PG, p + (uint64_t)k, 1, 0);
		CHECK(wr(b, p, 256, buf) == 0);
	}
	double held = stat_of(b, "held_bytes");
	uint64_t full = rss_anon();
	/* The store holds them compressed: well under their 32 MiB, and the process
	 * grew by about what the store says it holds. */
	CHECK(held < N * (double)PG / 2); /* lz4: ~2.8x on these pages */
	if (RSS_CHECKS) {
		CHECK(full - before < held * 1.25 + (1 << 20));
		CHECK(full - before > held * 0.75);
	}
	CHECK(b->ops->discard(b, 0, N) == 0);
	CHECK_EQ_U64(stat_of(b, "pages_held"), 0);
	CHECK_EQ_U64(stat_of(b, "held_bytes"), 0);
	CHECK(stat_of(b, "slabs_freed") > 0);
	uint64_t after = rss_anon();
	if (RSS_CHECKS)
		CHECK(after < full - held * 0.9); /* the slabs went back to the kernel */
	b->ops->close(b);
	free(buf);
}

TEST(compaction_frees_sparse_slabs)
{
	fs_backend *b = open_zmem("zmem");
	enum { N = 8192 };
	unsigned char *buf = malloc(256 * PG), *back = malloc(PG);
	for (uint64_t p = 0; p < N; p += 256) {
		for (int k = 0; k < 256; k++)
			fill(buf + k * PG, p + (uint64_t)k, 1, 0);
		CHECK(wr(b, p, 256, buf) == 0);
	}
	double full = stat_of(b, "held_bytes");
	/* Keep one page in eight: without compaction every slab would stay. */
	for (uint64_t p = 0; p < N; p += 8)
		CHECK(b->ops->discard(b, p + 1, 7) == 0);
	double sparse = stat_of(b, "held_bytes");
	CHECK(stat_of(b, "objects_moved") > 0);
	CHECK(sparse < full / 4);
	size_t wrong = 0;
	for (uint64_t p = 0; p < N; p += 8) {
		fill(buf, p, 1, 0);
		CHECK(rd(b, p, 1, back, FS_IO_DEMAND) == 0);
		wrong += memcmp(buf, back, PG) != 0;
	}
	CHECK_EQ_U64(wrong, 0);
	b->ops->close(b);
	free(buf);
	free(back);
}

TEST(demand_reads_complete_before_queued_prefetches)
{
	fs_backend *b = open_zmem("zmem");
	unsigned char *buf = malloc(256 * PG), *back = malloc(257 * PG);
	for (int k = 0; k < 256; k++)
		fill(buf + k * PG, (uint64_t)k, 1, 0);
	CHECK(wr(b, 0, 256, buf) == 0);
	CHECK(wr(b, 1000, 1, buf) == 0);
	fs_io ios[9];
	for (int i = 0; i < 8; i++)
		ios[i] = (fs_io){ .page = (uint64_t)i * 32, .npages = 32, .flags = FS_IO_PREFETCH,
				  .buf = back + (size_t)i * 32 * PG, .tag = (uint64_t)i };
	CHECK(b->ops->submit_read(b, ios, 8) == 8);
	ios[8] = (fs_io){ .page = 1000, .npages = 1, .flags = FS_IO_DEMAND,
			  .buf = back + 256 * PG, .tag = 99 };
	CHECK(b->ops->submit_read(b, &ios[8], 1) == 1);
	fs_io_done d[64];
	int got = b->ops->poll(b, d, 64, 0);
	CHECK_EQ_U64(got, 1); /* the demand read alone, before any prefetch */
	CHECK_EQ_U64(d[0].tag, 99);
	CHECK(memcmp(back + 256 * PG, buf, PG) == 0);
	int total = 0;
	while (b->ops->inflight(b)) {
		got = b->ops->poll(b, d, 64, 0);
		CHECK(got > 0 && got <= 2); /* at most POLL_PAGES (32) pages per call */
		total += got;
	}
	CHECK_EQ_U64(total, 8);
	CHECK(memcmp(back, buf, 256 * PG) == 0);
	b->ops->close(b);
	free(buf);
	free(back);
}

TEST(queued_read_returns_the_data_of_its_submission)
{
	fs_backend *b = open_zmem("zmem");
	unsigned char *v1 = malloc(PG), *v2 = malloc(PG), *back = malloc(PG), *back2 = malloc(PG);
	fill(v1, 7, 1, 1);
	fill(v2, 7, 0, 2);
	CHECK(wr(b, 7, 1, v1) == 0);
	fs_io io = { .page = 7, .npages = 1, .flags = FS_IO_PREFETCH, .buf = back, .tag = 1 };
	CHECK(b->ops->submit_read(b, &io, 1) == 1);
	/* A write of the page while its read is queued: the read still sees v1. */
	fs_io w = { .page = 7, .npages = 1, .flags = FS_IO_WRITEBACK, .buf = v2, .tag = 2 };
	CHECK(b->ops->submit_write(b, &w, 1) == 1);
	fs_io_done d[8];
	while (b->ops->inflight(b))
		CHECK(b->ops->poll(b, d, 8, -1) >= 0);
	CHECK(memcmp(back, v1, PG) == 0);
	/* A read after the write sees v2 (read-after-write). */
	CHECK(rd(b, 7, 1, back2, FS_IO_DEMAND) == 0);
	CHECK(memcmp(back2, v2, PG) == 0);
	b->ops->close(b);
	free(v1);
	free(v2);
	free(back);
	free(back2);
}

TEST(errors_are_sentences)
{
	fs_backend *b = open_zmem("zmem");
	unsigned char page[PG];
	CHECK(rd(b, 5, 1, page, FS_IO_DEMAND) == FS_EBACKEND);
	CHECK_STR_CONTAINS(b->errmsg, "page 5 was never written");
	fs_io io = { .page = (256u << 20) / PG, .npages = 1, .buf = page };
	CHECK(b->ops->submit_write(b, &io, 1) == FS_ERANGE);
	CHECK_STR_CONTAINS(b->errmsg, "outside far memory");
	b->ops->close(b);
	char err[256];
	CHECK(fs_backend_check("zmem?compressor=brotli", err, sizeof(err)) == FS_EINVAL);
	CHECK_STR_CONTAINS(err, "zmem?compressor=zstd");
	CHECK(fs_backend_check("zmem", err, sizeof(err)) == 0);
}

/* The whole process under the runtime: 24 MiB of compressible data through a 1 MiB
 * budget.  mem keeps a full copy of every evicted page; zmem a compressed one, so the
 * process's anonymous RSS grows by a fraction of mem's. */
static uint64_t rss_growth(const char *backend)
{
	fs_config cfg;
	char err[256];
	fs_config_from_env(&cfg, err, sizeof(err));
	cfg.local_mem = 1 << 20;
	cfg.arena_size = 1ull << 30;
	cfg.arena_base = 0;
	cfg.mem_latency_us = 0;
	cfg.quiet = 1;
	cfg.prefetch = FS_PREFETCH_NONE;
	snprintf(cfg.backend, sizeof(cfg.backend), "%s", backend);
	fs_runtime *rt;
	if (fs_runtime_start(&cfg, &rt, err, sizeof(err))) {
		fprintf(stderr, "  %s: %s\n", backend, err);
		return UINT64_MAX;
	}
	uint64_t before = rss_anon();
	size_t n = (24u << 20) / 8;
	uint64_t *a = fs_alloc(rt, n * 8);
	for (size_t i = 0; i < n; i++)
		a[i] = churn_mix(i) % 13;
	size_t wrong = 0;
	for (size_t i = 0; i < n; i++)
		wrong += a[i] != churn_mix(i) % 13;
	CHECK_EQ_U64(wrong, 0);
	uint64_t grown = rss_anon() - before;
	fs_runtime_stop(rt);
	return grown;
}

TEST(process_rss_grows_by_the_compressed_size)
{
	uint64_t mem = rss_growth("mem"), zmem = rss_growth("zmem");
	fprintf(stderr, "  anonymous RSS grown: mem %.1f MiB, zmem %.1f MiB\n", mem / 1048576.0,
		zmem / 1048576.0);
	if (!RSS_CHECKS)
		return;
	CHECK(mem > (20u << 20)); /* the full copy */
	CHECK(zmem < mem / 2); /* lz4: ~2.8x on these pages */
}

int main(void)
{
	RUN(every_kind_of_page_comes_back_lz4);
	RUN(every_kind_of_page_comes_back_zstd);
	RUN(same_filled_pages_take_no_slab_memory);
	RUN(discarded_pages_give_memory_back);
	RUN(compaction_frees_sparse_slabs);
	RUN(demand_reads_complete_before_queued_prefetches);
	RUN(queued_read_returns_the_data_of_its_submission);
	RUN(errors_are_sentences);
	RUN(process_rss_grows_by_the_compressed_size);
	return TEST_EXIT();
}
