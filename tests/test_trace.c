/*
 * test_trace.c - the trace format (docs/TRACE_FORMAT.md): what fs_trace_create/append/
 * close write, fs_trace_read gives back exactly; a file that is cut short, has a flipped
 * byte, another magic or another version is refused with FS_EFORMAT and a sentence that
 * names the file and the problem.
 */
#include "testlib.h"

#include "farsight.h"

#include <fcntl.h>
#include <stdint.h>
#include <sys/resource.h>
#include <unistd.h>

#define HEADER_SIZE 1104 /* trace.c: TRACE_HEADER_SIZE */
#define RECORD_SIZE 16

static char path[64];

static const char *msg(const char *s) { return s; }

static fs_event event_at(size_t i)
{
	fs_event ev = {
		.page = (i * 2654435761u) & ((1ull << 48) - 1),
		.time_ns = i * 1234567ull,
		.thread = (uint16_t)(i % 5 == 0 ? 65535 : i % 7),
		.kind = (uint8_t)(i % 3 == 0 ? FS_EV_HIT : FS_EV_MISS),
		.flags = (uint8_t)(i % 4 == 0 ? FS_EVF_WRITE : 0),
	};
	return ev;
}

static int write_trace(size_t n)
{
	fs_trace_info info = {0};
	info.local_mem = 123ull << 20;
	info.command_hash = 0xfeedfacecafebeefull;
	snprintf(info.prefetch, sizeof(info.prefetch), "leap");
	snprintf(info.command, sizeof(info.command), "./mcf --size tiny");
	fs_trace_writer *w;
	int rc = fs_trace_create(path, &info, &w);
	if (rc)
		return rc;
	for (size_t i = 0; i < n; i++) {
		fs_event ev = event_at(i);
		if ((rc = fs_trace_append(w, &ev)))
			return rc;
	}
	return fs_trace_close(w);
}

static long file_size(void)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return -1;
	fseek(f, 0, SEEK_END);
	long s = ftell(f);
	fclose(f);
	return s;
}

static void poke(long off, unsigned char xor_mask)
{
	FILE *f = fopen(path, "r+b");
	if (!f)
		return;
	fseek(f, off, SEEK_SET);
	int c = fgetc(f);
	fseek(f, off, SEEK_SET);
	fputc(c ^ xor_mask, f);
	fclose(f);
}

/* Read and expect failure rc with a message containing `needle` and the path. */
static void expect_refused(int want_rc, const char *needle)
{
	fs_trace_info info;
	fs_event *ev = (fs_event *)1;
	size_t n = 99;
	char err[1024] = "";
	int rc = fs_trace_read(path, &info, &ev, &n, err, sizeof(err));
	CHECK_EQ_U64(rc, (uint64_t)want_rc);
	CHECK(ev == NULL);
	CHECK_EQ_U64(n, 0);
	CHECK_STR_CONTAINS(msg(err), needle);
	CHECK_STR_CONTAINS(msg(err), path);
}

TEST(trace_round_trip)
{
	/* 10000 events: more than the writer's 4096-record buffer, so flushes happen. */
	const size_t N = 10000;
	CHECK_EQ_U64(write_trace(N), FS_OK);
	CHECK_EQ_U64(file_size(), HEADER_SIZE + N * RECORD_SIZE + 24);
	fs_trace_info info;
	fs_event *ev = NULL;
	size_t n = 0;
	char err[1024] = "";
	CHECK_EQ_U64(fs_trace_read(path, &info, &ev, &n, err, sizeof(err)), FS_OK);
	CHECK_EQ_U64(n, N);
	CHECK_EQ_U64(info.n_events, N);
	CHECK_EQ_U64(info.version, 1);
	CHECK_EQ_U64(info.local_mem, 123ull << 20);
	CHECK_EQ_U64(info.command_hash, 0xfeedfacecafebeefull);
	CHECK(!strcmp(info.prefetch, "leap"));
	CHECK(!strcmp(info.command, "./mcf --size tiny"));
	int same = ev != NULL;
	for (size_t i = 0; same && i < N; i++) {
		fs_event w = event_at(i);
		same = ev[i].page == w.page && ev[i].time_ns == w.time_ns &&
		       ev[i].thread == w.thread && ev[i].kind == w.kind && ev[i].flags == w.flags;
	}
	CHECK(same);
	free(ev);
}

/* Read the trace, which must be accepted; its event count. */
static size_t read_count(fs_trace_info *info)
{
	fs_event *ev = NULL;
	size_t n = 7;
	char err[1024] = "";
	CHECK_EQ_U64(fs_trace_read(path, info, &ev, &n, err, sizeof(err)), FS_OK);
	free(ev);
	return n;
}

TEST(trace_empty_round_trip)
{
	CHECK_EQ_U64(write_trace(0), FS_OK);
	fs_trace_info info;
	CHECK_EQ_U64(read_count(&info), 0);
	CHECK_EQ_U64(info.n_events, 0);
}

TEST(trace_truncated_is_refused)
{
	CHECK_EQ_U64(write_trace(1000), FS_OK);
	long size = file_size();
	/* Cut inside the records: the trailer is gone, as after a crashed recording. */
	CHECK(truncate(path, size - 24 - 5 * RECORD_SIZE - 3) == 0);
	expect_refused(FS_EFORMAT, "truncated");
	/* Cut to less than a header. */
	CHECK(truncate(path, 100) == 0);
	expect_refused(FS_EFORMAT, "too short");
}

TEST(trace_recording_that_never_closed_is_refused)
{
	fs_trace_info info = {0};
	fs_trace_writer *w;
	CHECK_EQ_U64(fs_trace_create(path, &info, &w), FS_OK);
	for (size_t i = 0; i < 5000; i++) { /* 4096 flushed, the rest lost: no close */
		fs_event ev = event_at(i);
		fs_trace_append(w, &ev);
	}
	/* On disk so far: the header (count still unknown) and the first 4096 records. */
	expect_refused(FS_EFORMAT, "truncated");
	CHECK_EQ_U64(fs_trace_close(w), FS_OK); /* and closing it later makes it whole */
	fs_event *ev = NULL;
	size_t n = 0;
	char err[1024];
	CHECK_EQ_U64(fs_trace_read(path, &info, &ev, &n, err, sizeof(err)), FS_OK);
	CHECK_EQ_U64(n, 5000);
	free(ev);
}

TEST(trace_corrupted_record_fails_checksum)
{
	CHECK_EQ_U64(write_trace(1000), FS_OK);
	poke(HEADER_SIZE + 500 * RECORD_SIZE + 9, 0x01);
	expect_refused(FS_EFORMAT, "checksum");
	/* And a damaged checksum itself. */
	CHECK_EQ_U64(write_trace(1000), FS_OK);
	poke(file_size() - 1, 0x80);
	expect_refused(FS_EFORMAT, "checksum");
}

TEST(trace_count_mismatch_is_refused)
{
	CHECK_EQ_U64(write_trace(1000), FS_OK);
	poke(16, 0x01); /* header count 1000 -> 1001 */
	expect_refused(FS_EFORMAT, "damaged");
}

TEST(trace_wrong_magic_is_refused)
{
	CHECK_EQ_U64(write_trace(10), FS_OK);
	poke(0, 0x20); /* 'F' -> 'f' */
	expect_refused(FS_EFORMAT, "not a farsight trace");
}

TEST(trace_wrong_version_is_refused)
{
	CHECK_EQ_U64(write_trace(10), FS_OK);
	poke(8, 0x03); /* version 1 -> 2 */
	expect_refused(FS_EFORMAT, "version 2");
}

/* A directory, a device and a huge file are refused by what they are or by their
 * header, with the reason, and without reading them. */
TEST(trace_reader_checks_before_reading)
{
	fs_trace_info info;
	fs_event *ev = NULL;
	size_t n = 0;
	char err[1024] = "";
	CHECK_EQ_U64(fs_trace_read("/tmp", &info, &ev, &n, err, sizeof(err)), (uint64_t)FS_EFORMAT);
	CHECK_STR_CONTAINS(msg(err), "/tmp is a directory");
	CHECK_EQ_U64(fs_trace_read("/dev/zero", &info, &ev, &n, err, sizeof(err)),
		     (uint64_t)FS_EFORMAT);
	CHECK_STR_CONTAINS(msg(err), "/dev/zero is not a regular file");
	/* A good header, then 1 GiB (sparse) without a trailer. */
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	long before = ru.ru_maxrss;
	CHECK_EQ_U64(write_trace(10), FS_OK);
	CHECK(truncate(path, 1l << 30) == 0);
	expect_refused(FS_EFORMAT, "truncated");
	getrusage(RUSAGE_SELF, &ru);
	fprintf(stderr, "  peak RSS grew by %ld KiB reading a 1 GiB trace\n", ru.ru_maxrss - before);
	CHECK(ru.ru_maxrss - before < 64 * 1024);
}

/* A trace written to a pipe has no count in its header; the trailer's is used. */
TEST(trace_without_header_count_reads_by_its_trailer)
{
	CHECK_EQ_U64(write_trace(300), FS_OK);
	for (int i = 0; i < 8; i++)
		poke(16 + i, 0xff ^ (i == 0 ? 300 & 0xff : i == 1 ? 300 >> 8 : 0));
	fs_trace_info info;
	CHECK_EQ_U64(read_count(&info), 300);
}

TEST(trace_missing_file_is_an_io_error)
{
	unlink(path);
	expect_refused(FS_EIO, "cannot open");
}

int main(void)
{
	snprintf(path, sizeof(path), "/tmp/fs_test_trace_%d.trace", (int)getpid());
	RUN(trace_round_trip);
	RUN(trace_empty_round_trip);
	RUN(trace_truncated_is_refused);
	RUN(trace_recording_that_never_closed_is_refused);
	RUN(trace_corrupted_record_fails_checksum);
	RUN(trace_count_mismatch_is_refused);
	RUN(trace_wrong_magic_is_refused);
	RUN(trace_wrong_version_is_refused);
	RUN(trace_reader_checks_before_reading);
	RUN(trace_without_header_count_reads_by_its_trailer);
	RUN(trace_missing_file_is_an_io_error);
	unlink(path);
	return TEST_EXIT();
}
