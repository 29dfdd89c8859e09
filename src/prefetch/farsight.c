/*
 * farsight.c - the FarSight prefetcher policy: tokenizer + future maps + the tiny
 * RetNet in recurrent form (src/model/).
 *
 * Per event: tokenize it (the transition from the thread's previous page, through the
 * previous page's future map, which the tokenizer also updates), advance that thread's
 * recurrent state by one step (constant time), then roll a copy of the state forward
 * greedily for `lookahead` steps; each predicted token is resolved through the future
 * map of the page predicted before it (or as a page delta), giving a chain of pages,
 * most urgent first.  The chain stops at a token that does not resolve (new, start) or
 * whose probability is below the confidence threshold, so an unsure model prefetches
 * less instead of wasting bandwidth.
 *
 * Model file: cfg->model, or FS_MODEL_DEFAULT_PATH (models/default.fsm, relative to
 * the working directory) when none is given.  Future maps are bounded by
 * FS_FARSIGHT_MAP_BUDGET bytes; maps of pages not used for longest are dropped.
 * Until the settings table carries them, FARSIGHT_MIN_PROB (confidence threshold,
 * default 0.2) and FARSIGHT_MAP_BYTES override the defaults.
 *
 * Calls are serialised by the caller (one pager thread, or the replay), as for every
 * policy; per-thread state is indexed by the event's thread number.
 */
#include "modelfile.h"
#include "policy.h"
#include "train.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

#define FS_FARSIGHT_MAP_BUDGET (64ull << 20)
#define FS_FARSIGHT_MIN_PROB 0.2f

struct farsight {
	fs_policy base;
	fs_model model;
	fs_tokenizer *tok;
	uint32_t lookahead;
	float min_prob;
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
	uint64_t budget = FS_FARSIGHT_MAP_BUDGET;
	const char *e = getenv("FARSIGHT_MAP_BYTES");
	if (e && *e && fs_parse_size(e, &budget)) {
		fs_errf(err, errlen, "FARSIGHT_MAP_BYTES='%s' is not a size (e.g. 64M)", e);
		fsp_destroy(&f->base);
		return FS_EINVAL;
	}
	f->min_prob = FS_FARSIGHT_MIN_PROB;
	e = getenv("FARSIGHT_MIN_PROB");
	if (e && *e) {
		char *end;
		float v = strtof(e, &end);
		if (*end || !(v >= 0.0f && v <= 1.0f)) {
			fs_errf(err, errlen, "FARSIGHT_MIN_PROB='%s' must be a number in [0, 1]", e);
			fsp_destroy(&f->base);
			return FS_EINVAL;
		}
		f->min_prob = v;
	}
	f->lookahead = cfg->lookahead ? cfg->lookahead : 8;
	if (f->lookahead > FS_POLICY_MAX_CANDIDATES)
		f->lookahead = FS_POLICY_MAX_CANDIDATES;
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

static int fsp_on_event(fs_policy *p, const fs_event *ev, uint64_t *out, int max)
{
	struct farsight *f = (struct farsight *)p;
	size_t th = ev->thread;
	if (th >= f->nth && grow_threads(f, th))
		return 0; /* out of memory: no prediction rather than a failure */
	const fs_retnet *net = f->model.net;
	float *z = f->logits + th * net->cfg.vocab;
	int token = fs_tokenize(f->tok, ev);
	fs_rn_step(net, f->st[th], token, z);
	uint32_t L = f->lookahead < (uint32_t)max ? f->lookahead : (uint32_t)max;
	return fs_lookahead_chain(net, f->tok, f->st[th], f->tmp, z, ev->page, L, f->min_prob,
				  out);
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
};
