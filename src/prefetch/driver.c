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

static int call(fs_driver *d, const fs_event *ev, uint32_t depth, uint64_t *out, int max)
{
	uint64_t t0 = fs_now_ns();
	int n = d->pol->ops->on_event(d->pol, ev, out, max);
	d->policy_ns += fs_now_ns() - t0;
	d->calls++;
	n = n > 0 ? n : 0;
	fs_driver_observer obs = atomic_load_explicit(&d->observe, memory_order_acquire);
	if (obs)
		obs(atomic_load_explicit(&d->observe_arg, memory_order_relaxed), ev, depth, out, n);
	return n;
}

int fs_driver_event(fs_driver *d, const fs_event *ev, uint64_t *out, int max)
{
	d->events++;
	return call(d, ev, 0, out, max);
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
	call(d, &ev, depth + 1u, none, 0);
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
			call(d, &ev, a.depth + 1u, none, 0); /* the chain ends here: learn only */
			continue;
		}
		*n = call(d, &ev, a.depth + 1u, out, max);
		*depth = a.depth + 1u;
		*thread = a.thread;
		return 1;
	}
	return 0;
}
