/*
 * trace.c - reading and writing event traces (docs/TRACE_FORMAT.md).
 *
 * A trace is what `farsight run --record` saw: the fault-event stream the prefetcher
 * is fed.  `farsight train` learns from traces, the oracle policy replays them and
 * `farsight eval` scores policies on them, so the format is versioned and checked:
 * a header, fixed 16-byte little-endian records, and a trailer with the record count
 * and an FNV-1a checksum of the records.  A file cut short (a crashed recording) has
 * no valid trailer and is refused with a message that says so.
 */
#include "farsight.h"
#include "common/util.h"
#include "trace/synth.h"
#include "trace/trace.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define TRACE_MAGIC "FSTRACE\0"
#define TRACE_END "FSTREND\0"
#define TRACE_VERSION 1u
#define TRACE_HEADER_SIZE 1104u
#define TRACE_TRAILER_SIZE 24u
#define TRACE_RECORD_SIZE 16u
#define TRACE_PAGE_MASK ((1ull << 48) - 1)
#define TRACE_TIME_MASK ((1ull << 62) - 1)

struct fs_trace_writer {
	fs_outfile out; /* written in place (FS_OUT_IN_PLACE): a crashed recording stays readable as unfinished */
	FILE *f;
	uint64_t n;
	uint64_t sum;
	unsigned char buf[TRACE_RECORD_SIZE * 4096];
	size_t used;
};

uint64_t fs_fnv1a(const void *data, size_t len, uint64_t h)
{
	const unsigned char *p = data;
	for (size_t i = 0; i < len; i++) {
		h ^= p[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

static void put64(unsigned char *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}
static void put32(unsigned char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}
static uint64_t get64(const unsigned char *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}
static uint32_t get32(const unsigned char *p)
{
	uint32_t v = 0;
	for (int i = 3; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

/* Header layout: magic[8] version u32, header_size u32, n_events u64, local_mem u64,
 * command_hash u64, page_size u32, reserved u32, prefetch[32], command[1024]. */
static void encode_header(unsigned char *h, const fs_trace_info *info, uint64_t n)
{
	memset(h, 0, TRACE_HEADER_SIZE);
	memcpy(h, TRACE_MAGIC, 8);
	put32(h + 8, TRACE_VERSION);
	put32(h + 12, TRACE_HEADER_SIZE);
	put64(h + 16, n);
	put64(h + 24, info->local_mem);
	put64(h + 32, info->command_hash);
	put32(h + 40, FS_PAGE_SIZE);
	memcpy(h + 48, info->prefetch, strnlen(info->prefetch, 31));
	memcpy(h + 80, info->command, strnlen(info->command, 1023));
}

int fs_trace_create(const char *path, const fs_trace_info *info, fs_trace_writer **out)
{
	fs_trace_writer *w = calloc(1, sizeof(*w));
	if (!w)
		return FS_ENOMEM;
	if (fs_out_open(&w->out, path, FS_OUT_IN_PLACE | FS_OUT_RUNTIME, NULL, 0)) {
		free(w);
		return FS_EIO;
	}
	w->f = w->out.f;
	unsigned char h[TRACE_HEADER_SIZE];
	encode_header(h, info, UINT64_MAX); /* count unknown until close */
	if (fwrite(h, 1, sizeof(h), w->f) != sizeof(h)) {
		fs_out_abort(&w->out);
		free(w);
		return FS_EIO;
	}
	w->sum = FS_FNV_SEED;
	*out = w;
	return FS_OK;
}

static int flush_records(fs_trace_writer *w)
{
	if (w->used && fwrite(w->buf, 1, w->used, w->f) != w->used)
		return FS_EIO;
	w->sum = fs_fnv1a(w->buf, w->used, w->sum);
	w->used = 0;
	return FS_OK;
}

int fs_trace_append(fs_trace_writer *w, const fs_event *ev)
{
	if (w->used == sizeof(w->buf)) {
		int rc = flush_records(w);
		if (rc)
			return rc;
	}
	unsigned char *r = w->buf + w->used;
	put64(r, (ev->page & TRACE_PAGE_MASK) | ((uint64_t)ev->thread << 48));
	put64(r + 8, (ev->time_ns & TRACE_TIME_MASK) | ((uint64_t)(ev->kind & 1) << 62) |
			     ((uint64_t)(ev->flags & FS_EVF_WRITE) << 63));
	w->used += TRACE_RECORD_SIZE;
	w->n++;
	return FS_OK;
}

int fs_trace_close(fs_trace_writer *w)
{
	int rc = flush_records(w);
	unsigned char t[TRACE_TRAILER_SIZE];
	memcpy(t, TRACE_END, 8);
	put64(t + 8, w->n);
	put64(t + 16, w->sum);
	if (!rc && fwrite(t, 1, sizeof(t), w->f) != sizeof(t))
		rc = FS_EIO;
	/* Now that the count is known, write it into the header too - unless the trace
	 * goes to a pipe or device that cannot seek: then the trailer's count is the one
	 * (fs_trace_read takes it from there). */
	unsigned char n8[8];
	put64(n8, w->n);
	if (!rc && fflush(w->f))
		rc = FS_EIO;
	if (!rc && lseek(fileno(w->f), 0, SEEK_CUR) >= 0 &&
	    (fseek(w->f, 16, SEEK_SET) || fwrite(n8, 1, 8, w->f) != 8))
		rc = FS_EIO;
	if (fs_out_commit(&w->out, NULL, 0) && !rc)
		rc = FS_EIO;
	free(w);
	return rc;
}

int fs_trace_read(const char *path, fs_trace_info *info, fs_event **events, size_t *n,
		  char *err, size_t errlen)
{
	*events = NULL;
	*n = 0;
	/* Header and trailer first, then the records, exactly as many as they promise,
	 * decoded as they stream in: nothing is buffered before it is checked. */
	uint64_t size;
	int rc;
	int fd = fs_in_open(path, "trace", &size, &rc, err, errlen);
	if (fd < 0)
		return rc;
	rc = FS_EFORMAT;
	fs_event *ev = NULL;
	unsigned char h[TRACE_HEADER_SIZE], t[TRACE_TRAILER_SIZE];
	if (size < TRACE_HEADER_SIZE + TRACE_TRAILER_SIZE) {
		fs_errf(err, errlen, "%s is not a farsight trace: %llu bytes is too short", path,
			(unsigned long long)size);
		goto out;
	}
	errno = 0;
	if (fs_read_full(fd, h, sizeof(h)) != (long)sizeof(h) ||
	    pread(fd, t, sizeof(t), (off_t)(size - TRACE_TRAILER_SIZE)) != (ssize_t)sizeof(t)) {
		fs_errf(err, errlen, "cannot read trace %s: %s", path,
			errno ? strerror(errno) : "it shrank while being read");
		rc = FS_EIO;
		goto out;
	}
	if (memcmp(h, TRACE_MAGIC, 8) != 0) {
		fs_errf(err, errlen, "%s is not a farsight trace (bad magic)", path);
		goto out;
	}
	uint32_t version = get32(h + 8);
	if (version != TRACE_VERSION || get32(h + 12) != TRACE_HEADER_SIZE) {
		fs_errf(err, errlen, "%s is trace version %u; this farsight reads version %u",
			path, version, TRACE_VERSION);
		goto out;
	}
	if (get32(h + 40) != FS_PAGE_SIZE) {
		fs_errf(err, errlen, "%s was recorded with %u-byte pages, not %u", path,
			get32(h + 40), FS_PAGE_SIZE);
		goto out;
	}
	uint64_t count = get64(h + 16);
	if (memcmp(t, TRACE_END, 8) != 0) {
		fs_errf(err, errlen,
			"%s is truncated: the recording did not finish (no trailer); record it again",
			path);
		goto out;
	}
	/* A trace written to a pipe could not have its header's count filled in at close;
	 * the trailer's count stands in for it. */
	if (count == UINT64_MAX)
		count = get64(t + 8);
	uint64_t body = size - TRACE_HEADER_SIZE - TRACE_TRAILER_SIZE;
	if (body % TRACE_RECORD_SIZE || body / TRACE_RECORD_SIZE != count ||
	    get64(t + 8) != count) {
		fs_errf(err, errlen,
			"%s is damaged: header says %llu events, file holds %llu bytes of records",
			path, (unsigned long long)count, (unsigned long long)body);
		goto out;
	}
	ev = malloc((count ? count : 1) * sizeof(*ev));
	if (!ev) {
		rc = FS_ENOMEM;
		fs_errf(err, errlen, "out of memory for the %llu events of %s",
			(unsigned long long)count, path);
		goto out;
	}
	unsigned char buf[TRACE_RECORD_SIZE * 4096];
	uint64_t sum = FS_FNV_SEED;
	for (uint64_t i = 0; i < count;) {
		size_t want = (size_t)FS_MIN(count - i, (uint64_t)4096) * TRACE_RECORD_SIZE;
		long got = fs_read_full(fd, buf, want);
		if (got != (long)want) {
			fs_errf(err, errlen, "cannot read trace %s: %s", path,
				got < 0 ? strerror(errno) : "it shrank while being read");
			rc = FS_EIO;
			goto out;
		}
		sum = fs_fnv1a(buf, want, sum);
		for (const unsigned char *r = buf; r < buf + want; r += TRACE_RECORD_SIZE, i++) {
			uint64_t a = get64(r), b = get64(r + 8);
			ev[i].page = a & TRACE_PAGE_MASK;
			ev[i].thread = (uint16_t)(a >> 48);
			ev[i].time_ns = b & TRACE_TIME_MASK;
			ev[i].kind = (uint8_t)((b >> 62) & 1);
			ev[i].flags = (uint8_t)(b >> 63);
		}
	}
	if (sum != get64(t + 16)) {
		fs_errf(err, errlen, "%s is damaged: checksum mismatch in the event records",
			path);
		goto out;
	}
	if (info) {
		memset(info, 0, sizeof(*info));
		info->version = version;
		info->n_events = count;
		info->local_mem = get64(h + 24);
		info->command_hash = get64(h + 32);
		memcpy(info->prefetch, h + 48, 31);
		memcpy(info->command, h + 80, 1023);
	}
	*events = ev;
	*n = count;
	ev = NULL;
	rc = FS_OK;
out:
	free(ev);
	close(fd);
	return rc;
}

/* The one loader of every command that takes a trace: a recorded file, or a synth:
 * spec generated in memory (synth.c). */
int fs_trace_load(const char *path, fs_trace_info *info, fs_event **events, size_t *n,
		  char *err, size_t errlen)
{
	if (!strncmp(path, "synth:", 6))
		return fs_synth_trace(path, info, events, n, err, errlen);
	return fs_trace_read(path, info, events, n, err, errlen);
}
