/*
 * farsight.c - the FarSight prefetcher policy: tokenizer + future maps + the tiny
 * RetNet in recurrent form (src/model/).
 *
 * Per event: tokenize it (the transition from the thread's previous page, through the
 * previous page's future map, which the tokenizer also updates; misses and hits alike),
 * advance that thread's recurrent state by one step (constant time), then:
 *   1. first step, several candidates: the most probable tokens that resolve to
 *      distinct pages (an ordinal whose slot is filled, or a delta), each with
 *      probability >= min_prob, at most candidates of them.  "new",
 *      "start" and empty slots name no page and are skipped, never the end of the
 *      prediction.
 *   2. lookahead: from the best of them, roll a copy of the state forward
 *      `model_lookahead - 1` more steps, each feeding the token chosen at the step before and
 *      taking the best resolvable token from the page predicted before it, while its
 *      probability clears the threshold: a chain of pages, most urgent first.
 *   3. fallback: when step 1 gave no page (the model is unsure, or its maps are still
 *      empty), the pages of the fallback policy (leap by default), which sees every
 *      event the program raised (not assumed hits) so its own state stays current.
 * Measurements behind each choice: docs/MODEL.md.
 *
 * Model file: cfg->model, or FS_MODEL_DEFAULT_PATH (models/default.fsm, relative to
 * the working directory) when none is given.  Future maps are bounded by
 * cfg->map_bytes; maps of pages not used for longest are dropped.
 *
 * Calls are serialised by the caller (one pager thread, or the replay), as for every
 * policy; per-thread state is indexed by the event's thread number.
 */
#include "model/modelfile.h"
#include "prefetch/policy.h"
#include "model/train.h"
#include "common/util.h"

#include <stdlib.h>
#include <string.h>

#define FB_MAX 32 /* fallback pages taken per event */

struct farsight {
	fs_policy base;
	fs_model model;
	fs_tokenizer *tok;
	uint32_t lookahead;
	uint32_t width;
	float min_prob;
	fs_policy *fallback;
	fs_rn_state **st;
	float *logits;
	size_t nth;
	fs_rn_state *tmp;
};

static void fsp_destroy(fs_policy *p)
{
	struct farsight *f = (struct farsight *)p;
	for (size_t i = 0; i < f->nth; i++)
		free(f->st[i]);
	free(f->st);
	free(f->logits);
	free(f->tmp);
	fs_tok_destroy(f->tok);
	fs_model_free(&f->model);
	if (f->fallback)
		f->fallback->ops->destroy(f->fallback);
	free(f);
}

static int fsp_create(const fs_config *cfg, fs_policy **out, char *err, size_t errlen)
{
	extern const fs_policy_ops fs_policy_farsight;
	const char *path = cfg->model[0] ? cfg->model : FS_MODEL_DEFAULT_PATH;
	struct farsight *f = calloc(1, sizeof(*f));
	if (!f)
		return FS_ENOMEM;
	f->base.ops = &fs_policy_farsight;
	char why[400];
	int rc = fs_model_load(path, &f->model, why, sizeof(why));
	if (rc) {
		if (!cfg->model[0])
			fs_errf(err, errlen, "farsight prefetcher: no model given (--model FILE or "
				"FARSIGHT_MODEL) and the default %s cannot be used: %s; train one "
				"with `farsight train --trace T --out MODEL`", path, why);
		else
			fs_errf(err, errlen, "farsight prefetcher: %s", why);
		free(f);
		return rc;
	}
	uint64_t budget = cfg->map_bytes;
	if (!(cfg->min_prob >= 0.0 && cfg->min_prob <= 1.0)) {
		fs_errf(err, errlen, "min_prob %g must be a number in [0, 1]",
			cfg->min_prob);
		fsp_destroy(&f->base);
		return FS_EINVAL;
	}
	f->min_prob = (float)cfg->min_prob;
	f->width = cfg->candidates;
	if (f->width > FS_POLICY_MAX_CANDIDATES / 2)
		f->width = FS_POLICY_MAX_CANDIDATES / 2;
	const char *fb = cfg->fallback;
	if (fb[0] && strcmp(fb, "none")) {
		if (!strcmp(fb, "farsight") || !strcmp(fb, "oracle") ||
		    !fs_policy_find(fb)) {
			fs_errf(err, errlen, "fallback '%s': use none, readahead or leap",
				fb);
			fsp_destroy(&f->base);
			return FS_EINVAL;
		}
		fs_config sub = *cfg;
		snprintf(sub.prefetch, sizeof(sub.prefetch), "%s", fb);
		rc = fs_policy_find(fb)->create(&sub, &f->fallback, why, sizeof(why));
		if (rc) {
			fs_errf(err, errlen, "farsight prefetcher: fallback %s: %s", fb, why);
			fsp_destroy(&f->base);
			return rc;
		}
	}
	/* model_lookahead, not the oracle's `lookahead`: each step costs ~255 ns and 3
	 * steps are the most that fit the 1 us budget (docs/MODEL.md) */
	f->lookahead = cfg->model_lookahead ? cfg->model_lookahead : 1;
	if (f->lookahead > FS_POLICY_MAX_CANDIDATES / 2)
		f->lookahead = FS_POLICY_MAX_CANDIDATES / 2;
	rc = fs_tok_create(&f->model.tok, budget, &f->tok);
	if (rc) {
		fs_errf(err, errlen, "farsight prefetcher: future-map budget %llu bytes is too "
			"small (need room for 64 maps)", (unsigned long long)budget);
		fsp_destroy(&f->base);
		return rc;
	}
	f->tmp = fs_rn_state_new(f->model.net);
	if (!f->tmp) {
		fsp_destroy(&f->base);
		return FS_ENOMEM;
	}
	*out = &f->base;
	return FS_OK;
}

static int grow_threads(struct farsight *f, size_t th)
{
	size_t n = f->nth ? f->nth : 4;
	while (n <= th)
		n *= 2;
	size_t V = f->model.net->cfg.vocab;
	fs_rn_state **st = realloc(f->st, n * sizeof(*st));
	if (!st)
		return FS_ENOMEM;
	f->st = st;
	float *lg = realloc(f->logits, n * V * sizeof(float));
	if (!lg)
		return FS_ENOMEM;
	f->logits = lg;
	for (size_t i = f->nth; i < n; i++) {
		f->st[i] = fs_rn_state_new(f->model.net);
		if (!f->st[i]) {
			f->nth = i;
			return FS_ENOMEM;
		}
	}
	f->nth = n;
	return FS_OK;
}

static int have_page(const uint64_t *out, int n, uint64_t pg)
{
	for (int i = 0; i < n; i++)
		if (out[i] == pg)
			return 1;
	return 0;
}

static int fsp_on_event(fs_policy *p, const fs_event *ev, uint64_t *out, int max)
{
	struct farsight *f = (struct farsight *)p;
	size_t th = ev->thread;
	uint64_t fbp[FB_MAX];
	int nfb = 0;
	/* The fallback sees every event the program raised, so its window / history
	 * stays current, but not assumed hits: those are pages the predictions fetched,
	 * and a rule-based fallback fed its own guesses finds a trend in them and runs
	 * away (sssp tiny: 1.76M prefetches and twice the demand fetches, instead of
	 * 3.6k).  Only the model's confident predictions continue a chain. */
	int assumed = (ev->flags & FS_EVF_ASSUMED) != 0;
	if (f->fallback && !assumed)
		nfb = f->fallback->ops->on_event(f->fallback, ev, fbp, FB_MAX);
	if (th >= f->nth && grow_threads(f, th))
		return 0; /* out of memory: no prediction rather than a failure */
	const fs_retnet *net = f->model.net;
	const size_t V = net->cfg.vocab;
	float *z = f->logits + th * V;
	float pr[FS_RN_MAX_V], z2[FS_RN_MAX_V];
	int token = fs_tokenize(f->tok, ev);
	fs_rn_step(net, f->st[th], token, z);
	fs_rn_softmax(z, V, pr);

	/* 1. the first step's most probable tokens that resolve to distinct pages */
	int n = 0, best = -1;
	uint64_t best_page = FS_NOPAGE;
	uint8_t used[FS_RN_MAX_V]; /* tokens looked at */
	memset(used, 0, V);
	/* An assumed hit continues one chain (its best page, then the lookahead from
	 * it), not a fan of `candidates` pages: fanning out at every step of a chain
	 * multiplies wrong guesses (sssp tiny: 55k prefetches for 97 hits). */
	uint32_t width = assumed ? 1 : f->width;
	if (width > (uint32_t)max)
		width = (uint32_t)max;
	for (uint32_t taken = 0; taken < width;) {
		int t = -1;
		for (size_t v = FS_TOK_ORD0; v < V; v++)
			if (!used[v] && pr[v] >= f->min_prob && (t < 0 || pr[v] > pr[t]))
				t = (int)v;
		if (t < 0)
			break;
		used[t] = 1;
		uint64_t pg = fs_tok_resolve(f->tok, ev->page, t);
		if (pg == FS_NOPAGE || pg == ev->page || have_page(out, n, pg))
			continue;
		out[n++] = pg;
		taken++;
		if (best < 0) {
			best = t;
			best_page = pg;
		}
	}

	/* 2. the lookahead chain from the best of them */
	if (best >= 0 && f->lookahead > 1) {
		fs_rn_state_copy(net, f->tmp, f->st[th]);
		uint64_t page = best_page;
		int t = best;
		for (uint32_t j = 1; j < f->lookahead && n < max; j++) {
			fs_rn_step(net, f->tmp, t, z2);
			fs_rn_softmax(z2, V, pr);
			uint64_t next;
			t = fs_best_resolvable(f->tok, pr, V, page, f->min_prob, &next);
			if (t < 0)
				break;
			page = next;
			if (!have_page(out, n, next) && next != ev->page)
				out[n++] = next;
		}
	}

	/* 3. the fallback's pages when the model had nothing confident to say */
	if (best < 0)
		for (int i = 0; i < nfb && n < max; i++)
			if (!have_page(out, n, fbp[i]))
				out[n++] = fbp[i];
	return n;
}

static uint64_t fsp_mem_bytes(fs_policy *p)
{
	struct farsight *f = (struct farsight *)p;
	return fs_tok_map_bytes(f->tok);
}

const fs_policy_ops fs_policy_farsight = {
	.name = "farsight",
	.help = "FarSight: RetNet over future-map ordinals, lookahead chain (--model, --lookahead)",
	.create = fsp_create,
	.on_event = fsp_on_event,
	.mem_bytes = fsp_mem_bytes,
	.destroy = fsp_destroy,
	/* Mapped on arrival, predictions chained through assumed hits: a prefetch hit
	 * costs a ~6-11 us minor fault in user space (docs/TUNING.md), so seeing every
	 * hit costs more than the model gains (docs/MODEL.md, "Hits without faults"). */
	.runtime_flags = FS_POLICY_RT_MAP_PREFETCHED | FS_POLICY_RT_CHAIN,
};
