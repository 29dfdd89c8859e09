/*
 * farsight.c - the FarSight prefetcher policy: the predictor (src/model/predict.h:
 * tokenizer, future maps, the tiny RetNet in recurrent form) plus a rule-based
 * fallback.
 *
 * Per event (misses and hits alike): the predictor's pages, i.e. the first step's
 * candidates (the most probable tokens that resolve to distinct pages, each with
 * probability >= min_prob, at most `candidates` of them) and the lookahead chain from
 * the best of them (`model_lookahead` model steps); then, only when the first step gave
 * no page (the model is unsure, or its maps are still empty), the pages of the fallback
 * policy (leap by default), which sees every event the program raised (not assumed
 * hits) so its own state stays current.
 * Measurements behind each choice: docs/MODEL.md.
 *
 * Model file: cfg->model, or the shipped default model (fs_model_default_path: next to
 * the binary or library, the install prefix, or the working directory) when none is
 * given.  Future maps are bounded by
 * cfg->map_bytes; maps of pages not used for longest are dropped.
 *
 * Calls are serialised by the caller (one pager thread, or the replay), as for every
 * policy; per-thread state is indexed by the event's thread number.
 */
#include "model/modelfile.h"
#include "model/kernels.h"
#include "model/predict.h"
#include "prefetch/policy.h"
#include "common/util.h"

#include <stdlib.h>
#include <string.h>

#define FB_MAX 32 /* fallback pages taken per event */

struct farsight {
	fs_policy base;
	fs_model model;
	fs_predictor *pred;
	uint32_t width;
	fs_policy *fallback;
};

static void fsp_destroy(fs_policy *p)
{
	struct farsight *f = (struct farsight *)p;
	fs_pred_destroy(f->pred);
	fs_model_free(&f->model);
	if (f->fallback)
		f->fallback->ops->destroy(f->fallback);
	free(f);
}

static int fsp_create(const fs_config *cfg, fs_policy **out, char *err, size_t errlen)
{
	extern const fs_policy_ops fs_policy_farsight;
	const char *path = cfg->model[0] ? cfg->model : fs_model_default_path();
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
	if (cfg->fallback != FS_PREFETCH_NONE && cfg->fallback != FS_PREFETCH_READAHEAD &&
	    cfg->fallback != FS_PREFETCH_LEAP) {
		fs_errf(err, errlen, "fallback %u: use none, readahead or leap", cfg->fallback);
		fsp_destroy(&f->base);
		return FS_EINVAL;
	}
	if (cfg->fallback != FS_PREFETCH_NONE) {
		fs_config sub = *cfg;
		sub.prefetch = cfg->fallback;
		rc = fs_policy_get(cfg->fallback)->create(&sub, &f->fallback, why, sizeof(why));
		if (rc) {
			fs_errf(err, errlen, "farsight prefetcher: fallback %s: %s",
				fs_policy_get(cfg->fallback)->name, why);
			fsp_destroy(&f->base);
			return rc;
		}
	}
	fs_predict_opts po;
	fs_pred_opts_from_config(cfg, &po);
	f->width = po.width;
	if (po.kernel < 0 || !fs_rn_kernel_ok(f->model.net, po.kernel)) {
		fs_errf(err, errlen, "model_kernel '%s': %s; use auto, avx512, avx2, portable or "
			"generic (the fused ones need a model of the default shape, D=16 F=32, "
			"1 layer, 2 heads, and the CPU's instructions)", cfg->model_kernel,
			po.kernel < 0 ? "unknown kernel" : "not available for this model on this CPU");
		fsp_destroy(&f->base);
		return FS_EINVAL;
	}
	rc = fs_pred_create(&f->model, budget, &po, &f->pred);
	if (rc) {
		if (rc == FS_ENOMEM)
			fs_errf(err, errlen, "farsight prefetcher: out of memory");
		else
			fs_errf(err, errlen, "farsight prefetcher: future-map budget %llu bytes is "
				"too small (need room for 64 maps)", (unsigned long long)budget);
		fsp_destroy(&f->base);
		return rc;
	}
	*out = &f->base;
	return FS_OK;
}

static int fsp_on_event(fs_policy *p, const fs_event *ev, uint64_t *out, int max)
{
	struct farsight *f = (struct farsight *)p;
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
	/* An assumed hit continues one chain (its best page, then the lookahead from
	 * it), not a fan of `candidates` pages: fanning out at every step of a chain
	 * multiplies wrong guesses (sssp tiny: 55k prefetches for 97 hits). */
	uint32_t width = assumed ? 1 : f->width;
	if (width > (uint32_t)(max > 0 ? max : 0))
		width = (uint32_t)(max > 0 ? max : 0);
	fs_pred r;
	if (fs_pred_event(f->pred, ev, width, &r))
		return 0; /* out of memory: no prediction rather than a failure */
	if (r.ncand > 0)
		return fs_pred_pages(&r, ev->page, out, max);
	/* the fallback's pages when the model had nothing confident to say */
	int n = nfb < max ? nfb : max;
	if (n > 0)
		memcpy(out, fbp, (size_t)n * sizeof(*out));
	return n > 0 ? n : 0;
}

static uint64_t fsp_mem_bytes(fs_policy *p)
{
	struct farsight *f = (struct farsight *)p;
	return fs_pred_map_bytes(f->pred);
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
