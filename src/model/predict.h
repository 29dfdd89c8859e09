/*
 * predict.h - the FarSight predictor (internal): tokenizer + future maps + one recurrent
 * RetNet state per thread, turning each event into the pages the model predicts.
 *
 * One implementation for the runtime policy (src/prefetch/farsight.c, which adds only
 * the rule-based fallback around it) and for `farsight eval` / the tests, so that what
 * eval measures is the code that runs.  Per event:
 *
 *   1. tokenize (the transition from the thread's previous page through that page's
 *      future map, which the tokenizer also updates), one recurrent step of the
 *      thread's state, softmax;
 *   2. first-step candidates: the most probable tokens that resolve to distinct pages
 *      (an ordinal whose slot is filled, or a delta) with probability >= min_prob, at
 *      most `width` of them.  "new", "start" and empty slots name no page and are
 *      skipped, never the end of the prediction;
 *   3. the lookahead chain: from the best of them, a copy of the state rolled forward
 *      `lookahead - 1` more steps, each feeding the token chosen before and taking the
 *      best resolvable token from the page predicted before (fs_tok_best_resolvable:
 *      "new", "start" and empty slots are skipped), while it clears min_prob.  A chain
 *      is kept across events: when the event that comes is the one it predicted first
 *      and no future map changed, it is shifted and extended by one step (exactly
 *      what recomputing it would give, at the cost of one step instead of
 *      `lookahead - 1`).
 *
 * Not thread-safe: the caller serialises calls (one pager thread, or the replay).
 */
#ifndef FS_PREDICT_H
#define FS_PREDICT_H

#include "model/modelfile.h"

#define FS_PRED_MAX 64 /* candidates + chain pages of one event */

typedef struct fs_predict_opts {
	float min_prob;     /* a token is taken only with at least this probability */
	uint32_t width;     /* first-step candidates (0: the model predicts nothing) */
	uint32_t lookahead; /* model steps of the chain, the first included (>= 1) */
	int kernel;         /* step kernel, FS_RN_K_* (model/kernels.h); 0 = the best */
	int no_reuse;       /* recompute every chain (for tests: reuse gives the same pages) */
} fs_predict_opts;

/* The options from the settings min_prob, candidates and model_lookahead (the one
 * reading of them, for the policy and for eval). */
void fs_pred_opts_from_config(const fs_config *cfg, fs_predict_opts *o);

/* What one event gave. */
typedef struct fs_pred {
	int token;                  /* the event's own token */
	int ncand;                  /* first-step candidates, most probable first */
	uint64_t cand[FS_PRED_MAX];
	int nchain;                 /* the chain: chain[0] = cand[0], then one page per step */
	uint64_t chain[FS_PRED_MAX];
} fs_pred;

typedef struct fs_predictor fs_predictor;

/* A predictor over model m (not copied: m must outlive it), with future maps bounded
 * by map_budget bytes (0 = unbounded).  FS_EINVAL if the budget cannot hold 64 maps
 * or the kernel cannot run the model's shape on this CPU. */
int fs_pred_create(const fs_model *m, uint64_t map_budget, const fs_predict_opts *o,
		   fs_predictor **out);
void fs_pred_destroy(fs_predictor *p);

/* One event in: tokenize, step the thread's state, predict up to `width` first-step
 * candidates (at most the predictor's own width; 0: learn the event only, predict
 * nothing) and the chain.  FS_OK, or FS_ENOMEM when a
 * new thread's state cannot be allocated (then *out has no pages and the event was not
 * seen). */
int fs_pred_event(fs_predictor *p, const fs_event *ev, uint32_t width, fs_pred *out);

/* The pages of a prediction, most urgent first and distinct, none equal to `cur` (the
 * event's page): the candidates, then the rest of the chain.  Returns the count. */
int fs_pred_pages(const fs_pred *r, uint64_t cur, uint64_t *out, int max);

/* Logits of the thread's last step (V of them), or NULL before its first event. */
const float *fs_pred_logits(const fs_predictor *p, uint16_t thread);

const fs_tokenizer *fs_pred_tokenizer(const fs_predictor *p);
uint64_t fs_pred_map_bytes(const fs_predictor *p);

typedef struct fs_pred_stats {
	uint64_t events; /* events seen */
	uint64_t steps;  /* model steps run (one per event, plus the chains') */
	uint64_t kept;   /* events that were their chain's first: chain shifted, not redone */
} fs_pred_stats;
void fs_pred_get_stats(const fs_predictor *p, fs_pred_stats *out);

#endif
