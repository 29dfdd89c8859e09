/*
 * hermit.c - the "hermit" policy: Hermit's prefetching (Qiao et al., "Hermit:
 * Low-Latency, High-Throughput, and Transparent Remote Memory via Feedback-Directed
 * Asynchrony", NSDI'23).
 *
 * Hermit's contribution is not a prefetcher: it is "feedback-directed asynchrony" in
 * the kernel's swap path.  Swap-out, cgroup accounting and write-back move off the
 * fault path into reclaim threads whose number follows the fault rate, prefetched pages
 * may bypass the swap cache, and I/O is issued speculatively.  Its prefetching is plain
 * Linux swap readahead (its own prefetch thread is off by default).  So this policy's
 * prefetching is exactly `readahead`: it creates a readahead instance and only gives
 * it its own name, so that `--prefetch hermit` is one switch for the whole Hermit setup.
 *
 * What the runtime adds when the policy asks for FS_POLICY_RT_ADAPTIVE_RECLAIM (the
 * pager's part, src/runtime/reclaim.c): the free-page reserve that background reclaim
 * keeps ahead of the faults is sized by feedback from the fault rate, so that bursts
 * of faults find free pages and the fault path (almost) never reclaims itself; and
 * FS_POLICY_RT_MAP_PREFETCHED: prefetched pages are mapped as they arrive, without a
 * second fault on first touch (Hermit's swap-cache bypass).  Which
 * of Hermit's mechanisms are reproduced and which are not: docs/BASELINES.md.
 */
#include "prefetch/policy.h"

extern const fs_policy_ops fs_policy_readahead;
extern const fs_policy_ops fs_policy_hermit;

static int hermit_create(const fs_config *cfg, fs_policy **out, char *err, size_t errlen)
{
	int rc = fs_policy_readahead.create(cfg, out, err, errlen);
	if (rc == FS_OK)
		(*out)->ops = &fs_policy_hermit;
	return rc;
}

/* The instance is a readahead instance: its own functions serve it. */
static int hermit_on_event(fs_policy *p, const fs_event *ev, uint64_t *out, int max)
{
	return fs_policy_readahead.on_event(p, ev, out, max);
}

static void hermit_destroy(fs_policy *p) { fs_policy_readahead.destroy(p); }

const fs_policy_ops fs_policy_hermit = {
	.name = "hermit",
	.help = "Hermit (NSDI'23): readahead prefetching, with fully asynchronous reclaim",
	.create = hermit_create,
	.on_event = hermit_on_event,
	.destroy = hermit_destroy,
	.runtime_flags = FS_POLICY_RT_ADAPTIVE_RECLAIM | FS_POLICY_RT_MAP_PREFETCHED,
};
