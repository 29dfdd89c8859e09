/*
 * oracle.c - the "oracle" policy: replays a recorded trace of the same program and
 * input, and prefetches exactly the pages the recording says come next.
 *
 * It is the upper bound for any predictor with the same lookahead: where FarSight's
 * model guesses the next L far-memory accesses, the oracle reads them from a trace that
 * `farsight run --record FILE` wrote in an earlier run (cfg->trace, read with
 * fs_trace_read()).  Page numbers are arena page indices, stable across runs of a
 * deterministic program (arena_base fixes the arena's address), so the recorded
 * stream and the live one speak of the same pages.
 *
 * Following the live stream.  A cursor points at the next recorded event expected.
 * Each live event's page is looked up in a per-page index of its occurrence positions
 * in the recording (sorted, so one binary search), and the first occurrence at or after
 * the cursor, at most ORACLE_NEAR_WINDOW events ahead, is taken as the match; the
 * cursor moves just past it.  Only after ORACLE_RESYNC_AFTER unmatched events in a row
 * may a match be as far as ORACLE_RESYNC_WINDOW ahead.  The short window matters: the
 * live miss order is a local permutation of the recorded one (reclaim runs between
 * faults, so its timing reorders misses), and a page whose next recorded occurrence is
 * far ahead would otherwise throw the cursor past everything in between (measured on
 * mcf tiny: 990 of 1000 events unmatched with one 4096-event window, see
 * docs/BASELINES.md).  This resynchronises by itself when the live stream
 * diverges: prefetching turns the recording's misses into hits (both are events, so
 * that alone changes nothing), but a different cache content or reclaim order adds
 * events the recording does not have (skipped: they match nothing nearby, the cursor
 * stays) or drops some it has (the cursor skips over them).  The forward bound keeps a
 * hot page that recurs much later in the recording from throwing the cursor far ahead.
 * On a match the candidates are the distinct pages of the next cfg->lookahead recorded
 * events after it; on no match, those from the cursor (still the best guess).
 *
 * Mismatch.  A trace of another program or input matches almost nothing.  If more than
 * half of the first ORACLE_CHECK_EVENTS live events find no match, the policy stops
 * prefetching (it would only waste bandwidth) and reports the mismatch through the
 * status() call, which the runtime prints at exit: on_event has no error channel.  A
 * damaged trace is refused at create time.  A trace whose command line is not this
 * process's (see check_command) leaves the policy idle in this process.
 *
 * Calls are serialised by the caller, as for every policy (policy.h).
 */
#include "prefetch/policy.h"
#include "common/util.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define ORACLE_NEAR_WINDOW 256    /* how far ahead of the cursor a match may be, events */
#define ORACLE_RESYNC_AFTER 16    /* ... unless this many events in a row matched nothing: */
#define ORACLE_RESYNC_WINDOW 4096 /* then a match may be this far ahead */
#define ORACLE_BEHIND_WINDOW 256  /* a match may also be this far behind the cursor */
#define ORACLE_CHECK_EVENTS 1000  /* mismatch: > half of the first this many unmatched */
#define ORACLE_MIN_JUDGED 16      /* shorter live streams are not judged at all */

struct page_slot {
	uint64_t page;
	uint64_t start; /* first index into oracle.pos */
	uint32_t count; /* occurrences of the page */
	uint32_t used;  /* slot holds a page */
};

struct oracle {
	fs_policy base;
	char path[512];
	fs_event *ev; /* the recording */
	size_t n;
	uint32_t lookahead;
	uint64_t *pos; /* occurrence positions, grouped by page, ascending within a page */
	struct page_slot *table; /* open addressing, power-of-two size */
	size_t mask;
	size_t cursor;
	uint64_t seen, matched, early_unmatched, unmatched_run;
	int mismatch;
	int other_program;  /* the trace is of another program: no prefetches */
	char recorded[256]; /* ... recorded from this command line */
};

static struct page_slot *slot_of(const struct oracle *o, uint64_t page)
{
	size_t i = (size_t)((page * 0x9e3779b97f4a7c15ull) >> 20) & o->mask;
	while (o->table[i].used && o->table[i].page != page)
		i = (i + 1) & o->mask;
	return &o->table[i];
}

/* The per-page occurrence index: count per page, prefix offsets, then fill in event
 * order so each page's positions come out sorted. */
static int build_index(struct oracle *o)
{
	size_t cap = 16;
	while (cap < 2 * o->n)
		cap <<= 1;
	o->table = calloc(cap, sizeof(*o->table));
	o->pos = malloc((o->n ? o->n : 1) * sizeof(*o->pos));
	if (!o->table || !o->pos)
		return FS_ENOMEM;
	o->mask = cap - 1;
	for (size_t i = 0; i < o->n; i++) {
		struct page_slot *s = slot_of(o, o->ev[i].page);
		s->used = 1;
		s->page = o->ev[i].page;
		s->count++;
	}
	uint64_t off = 0;
	for (size_t i = 0; i < cap; i++) {
		o->table[i].start = off;
		off += o->table[i].count;
		o->table[i].count = 0; /* counted again while filling */
	}
	for (size_t i = 0; i < o->n; i++) {
		struct page_slot *s = slot_of(o, o->ev[i].page);
		o->pos[s->start + s->count++] = i;
	}
	return FS_OK;
}

/* First recorded occurrence of page at or after the cursor, within the resync window;
 * returns 1 with *at, or 0. */
static int find_next(const struct oracle *o, uint64_t page, size_t *at)
{
	const struct page_slot *s = slot_of(o, page);
	if (!s->used)
		return 0;
	const uint64_t *p = o->pos + s->start;
	size_t lo = 0, hi = s->count; /* first p[i] >= cursor */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (p[mid] < o->cursor)
			lo = mid + 1;
		else
			hi = mid;
	}
	size_t window = o->unmatched_run >= ORACLE_RESYNC_AFTER ? ORACLE_RESYNC_WINDOW
								 : ORACLE_NEAR_WINDOW;
	/* The nearest occurrence: the first at or after the cursor, or the last one
	 * before it if that is closer (the live order is a local permutation of the
	 * recorded one, so a page may come a little late). */
	int ahead = lo < s->count && p[lo] - o->cursor < window;
	int behind = lo > 0 && o->cursor - p[lo - 1] <= ORACLE_BEHIND_WINDOW;
	if (ahead && (!behind || p[lo] - o->cursor <= o->cursor - p[lo - 1]))
		*at = (size_t)p[lo];
	else if (behind)
		*at = (size_t)p[lo - 1];
	else
		return 0;
	return 1;
}

static void oracle_destroy(fs_policy *p)
{
	struct oracle *o = (struct oracle *)p;
	free(o->ev);
	free(o->pos);
	free(o->table);
	free(o);
}

/* Inside a runtime: is the trace a recording of this program (the command line its
 * header shows, fs_policy_live_command_hash)?  A process that is not, typically a
 * wrapper launcher that execs the recorded program (`farsight workload`, a shell
 * script), keeps the policy but prefetches nothing, and status() says why: the process
 * it execs matches and replays.  Replay (farsight eval) has no live command. */
static void check_command(struct oracle *o, const fs_trace_info *info)
{
	if (!fs_policy_live_command_hash || info->command_hash == fs_policy_live_command_hash)
		return;
	o->other_program = 1;
	snprintf(o->recorded, sizeof(o->recorded), "%.255s", info->command);
}

static int oracle_create(const fs_config *cfg, fs_policy **out, char *err, size_t errlen)
{
	extern const fs_policy_ops fs_policy_oracle;
	if (!cfg->trace[0]) {
		fs_errf(err, errlen,
			"the oracle policy needs a trace of an earlier run of the same program and "
			"input: record one with `farsight run --record FILE`, then pass --trace FILE");
		return FS_EINVAL;
	}
	struct oracle *o = calloc(1, sizeof(*o));
	if (!o) {
		fs_errf(err, errlen, "out of memory for the oracle policy");
		return FS_ENOMEM;
	}
	o->base.ops = &fs_policy_oracle;
	snprintf(o->path, sizeof(o->path), "%s", cfg->trace);
	o->lookahead = cfg->lookahead ? cfg->lookahead : 8;

	char why[768];
	fs_trace_info info;
	int rc = fs_trace_read(o->path, &info, &o->ev, &o->n, why, sizeof(why));
	if (rc) {
		fs_errf(err, errlen, "oracle: %s", why);
		goto fail;
	}
	check_command(o, &info);
	/* An empty trace is a valid recording of a run that never reached far memory;
	 * if this run does, the mismatch check says so. */
	rc = build_index(o);
	if (rc) {
		fs_errf(err, errlen, "oracle: out of memory indexing %zu events of %s", o->n,
			o->path);
		goto fail;
	}
	*out = &o->base;
	return FS_OK;
fail:
	oracle_destroy(&o->base);
	return rc;
}

/* Distinct pages of the recorded events [from, from + lookahead), other than page. */
static int next_pages(const struct oracle *o, size_t from, uint64_t page, uint64_t *out,
		      int max)
{
	int n = 0;
	size_t end = FS_MIN(o->n, from + o->lookahead);
	for (size_t i = from; i < end && n < max; i++) {
		uint64_t pg = o->ev[i].page;
		int dup = pg == page;
		for (int k = 0; k < n && !dup; k++)
			dup = out[k] == pg;
		if (!dup)
			out[n++] = pg;
	}
	return n;
}

static int oracle_on_event(fs_policy *p, const fs_event *ev, uint64_t *out, int max)
{
	struct oracle *o = (struct oracle *)p;
	if (o->other_program)
		return 0;
	size_t at;
	int found = find_next(o, ev->page, &at);
	o->seen++;
	o->unmatched_run = found ? 0 : o->unmatched_run + 1;
	if (found) {
		o->matched++;
		if (at + 1 > o->cursor) /* the cursor never moves back */
			o->cursor = at + 1;
	} else if (o->seen <= ORACLE_CHECK_EVENTS) {
		/* More than half of the first ORACLE_CHECK_EVENTS unmatched: wrong trace. */
		if (2 * ++o->early_unmatched > ORACLE_CHECK_EVENTS)
			o->mismatch = 1;
	}
	if (o->mismatch)
		return 0;
	return next_pages(o, o->cursor, ev->page, out, max);
}

static int oracle_status(fs_policy *p, char *err, size_t errlen)
{
	struct oracle *o = (struct oracle *)p;
	if (o->other_program) {
		fs_errf(err, errlen,
			"trace %s was recorded from '%.200s', not from this program, so the oracle "
			"prefetched nothing here; record this program with `farsight run --record "
			"FILE` and replay that file",
			o->path, o->recorded);
		return FS_EINVAL;
	}
	uint64_t judged = FS_MIN(o->seen, (uint64_t)ORACLE_CHECK_EVENTS);
	int bad = o->mismatch ||
		  (judged >= ORACLE_MIN_JUDGED && 2 * o->early_unmatched > judged);
	if (!bad)
		return FS_OK;
	fs_errf(err, errlen,
		"the live event stream does not follow trace %s (%" PRIu64 " of the "
		"first %" PRIu64 " events are not in it%s); was it recorded from this program "
		"with the same input and the same arena_base setting?",
		o->path, o->early_unmatched, judged,
		o->mismatch ? ", so prefetching stopped" : "");
	return FS_EINVAL;
}

const fs_policy_ops fs_policy_oracle = {
	.name = "oracle",
	.help = "replays a recorded trace (--trace): the upper bound for a given lookahead",
	.create = oracle_create,
	.on_event = oracle_on_event,
	.destroy = oracle_destroy,
	.status = oracle_status,
};
