/*
 * driver.c - events and assumed hits to candidates (design in driver.h).
 */
#include "prefetch/driver.h"
#include "common/util.h"

#include <string.h>

void fs_driver_init(fs_driver *d, fs_policy *pol, const fs_arrival *arrival)
{
	memset(d, 0, sizeof(*d));
	d->pol = pol;
	d->arrival = *arrival;
}

static void observe(fs_driver *d, const fs_event *ev, uint32_t depth, const uint64_t *out, int n)
{
	fs_driver_observer obs = atomic_load_explicit(&d->observe, memory_order_acquire);
	if (obs)
		obs(atomic_load_explicit(&d->observe_arg, memory_order_relaxed), ev, depth, out, n);
}

static int call(fs_driver *d, const fs_event *ev, uint64_t *out, int max)
{
	uint64_t t0 = fs_now_ns();
	int n = d->pol->ops->on_event(d->pol, ev, out, max);
	d->policy_ns += fs_now_ns() - t0;
	d->calls++;
	return n > 0 ? n : 0;
}

/* ---- streams ---------------------------------------------------------------------- */

static struct fs_stream *stream_slot(fs_driver *d, uint64_t page)
{
	return &d->streams[(page * 0x9e3779b97f4a7c15ull) >> 54 & (FS_STREAM_SLOTS - 1)];
}

/* The program touched `page`: if it is a stream's tripwire, append the run that
 * follows (twice the length, up to stream_max) to out[n..max). */
static int follow_stream(fs_driver *d, uint64_t page, uint64_t *out, int n, int max)
{
	struct fs_stream *s = stream_slot(d, page);
	if (s->trip != page + 1)
		return n;
	uint32_t len = FS_MIN(s->len * 2, d->arrival.stream_max);
	uint64_t pg = s->next;
	int8_t dir = s->dir;
	s->trip = 0;
	d->stream_runs++;
	for (uint32_t k = 0; k < len && n < max; k++) {
		out[n++] = pg;
		if (dir < 0 && pg == 0)
			break;
		pg += (uint64_t)(int64_t)dir;
	}
	return n;
}

/* Mark the first page of every run of FS_STREAM_MIN or more contiguous candidates as a
 * tripwire, and remember what follows the run. */
static void mark_streams(fs_driver *d, uint64_t *out, int n)
{
	for (int i = 0; i < n;) {
		int j = i + 1;
		int8_t dir = 0;
		if (j < n && FS_CAND_PAGE(out[j]) == FS_CAND_PAGE(out[i]) + 1)
			dir = 1;
		else if (j < n && FS_CAND_PAGE(out[j]) + 1 == FS_CAND_PAGE(out[i]))
			dir = -1;
		if (dir)
			while (j < n && FS_CAND_PAGE(out[j]) ==
						FS_CAND_PAGE(out[j - 1]) + (uint64_t)(int64_t)dir)
				j++;
		if (dir && j - i >= FS_STREAM_MIN) {
			uint64_t first = FS_CAND_PAGE(out[i]), last = FS_CAND_PAGE(out[j - 1]);
			struct fs_stream *s = stream_slot(d, first);
			*s = (struct fs_stream){ .trip = first + 1,
						 .next = last + (uint64_t)(int64_t)dir,
						 .len = (uint32_t)(j - i),
						 .dir = dir };
			out[i] |= FS_CAND_TRIPWIRE;
		}
		i = j;
	}
}

int fs_driver_event(fs_driver *d, const fs_event *ev, uint64_t *out, int max)
{
	d->events++;
	int n = call(d, ev, out, max);
	if (d->arrival.stream_max) {
		if (ev->kind == FS_EV_HIT)
			n = follow_stream(d, ev->page, out, n, max);
		mark_streams(d, out, n);
	}
	observe(d, ev, 0, out, n);
	return n;
}

void fs_driver_arrived(fs_driver *d, uint64_t page, uint16_t thread, uint32_t depth,
		       uint64_t time_ns)
{
	if (d->arrival.chain && d->n < FS_DRIVER_QUEUE) {
		d->q[(d->head + d->n++) % FS_DRIVER_QUEUE] =
			(struct fs_assumed){ page, time_ns, thread, (uint8_t)depth };
		return;
	}
	/* No chain (or its queue is full): the policy only learns of the hit, as the
	 * kernel's readahead counts a page that bypassed the swap cache. */
	fs_event ev = fs_assumed_event(page, time_ns, thread);
	uint64_t none[1];
	call(d, &ev, none, 0);
	observe(d, &ev, depth + 1u, none, 0);
}

int fs_driver_next(fs_driver *d, uint64_t *out, int max, int *n, uint32_t *depth,
		   uint16_t *thread)
{
	while (d->n) {
		struct fs_assumed a = d->q[d->head];
		d->head = (d->head + 1) % FS_DRIVER_QUEUE;
		d->n--;
		fs_event ev = fs_assumed_event(a.page, a.time_ns, a.thread);
		if (a.depth >= d->arrival.chain_depth) {
			uint64_t none[1];
			call(d, &ev, none, 0); /* the chain ends here: learn only */
			observe(d, &ev, a.depth + 1u, none, 0);
			continue;
		}
		*n = call(d, &ev, out, max);
		if (d->arrival.stream_max)
			mark_streams(d, out, *n);
		observe(d, &ev, a.depth + 1u, out, *n);
		*depth = a.depth + 1u;
		*thread = a.thread;
		return 1;
	}
	return 0;
}
