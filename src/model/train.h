/*
 * train.h - training and scoring a FarSight model on traces (internal; used by
 * `farsight train`, `farsight eval` and the tests).
 *
 * Tokenization happens per trace with fresh future maps, exactly as at run time; the
 * token stream is split per thread (the runtime keeps one recurrent state per thread),
 * and each thread's stream into windows of T+1 tokens (inputs t..t+T-1, targets
 * t+1..t+T).  The last held_out fraction of every thread's stream is held out.
 */
#ifndef FS_TRAIN_H
#define FS_TRAIN_H

#include "model/modelfile.h"
#include "model/predict.h"

#include <stdio.h>

typedef struct fs_train_opts {
	uint32_t epochs;      /* passes over the training windows */
	uint64_t seed;        /* weights init and window order */
	float lr;             /* peak AdamW learning rate (cosine decay to lr/10) */
	float weight_decay;
	uint32_t batch;       /* windows per step */
	float held_out;       /* fraction of each thread's stream held out */
	uint64_t map_budget;  /* future-map bytes while tokenizing (0 = unbounded) */
	uint64_t max_windows; /* cap on training windows per epoch (0 = all) */
	FILE *progress;       /* one line per epoch, or NULL */
} fs_train_opts;

void fs_train_default_opts(fs_train_opts *o);

/* Token streams of a set of traces, one per (trace, thread). */
typedef struct fs_token_set {
	int **tok;
	size_t *len;
	size_t n;
	fs_tok_stats stats; /* summed over traces */
	uint64_t map_bytes; /* largest future-map footprint of one trace */
} fs_token_set;

int fs_token_set_add(fs_token_set *s, const fs_tok_config *c, uint64_t map_budget,
		     const fs_event *ev, size_t n);
void fs_token_set_free(fs_token_set *s);

typedef struct fs_train_result {
	float train_loss, train_acc, held_loss, held_acc;
	uint64_t train_tokens, held_tokens;
} fs_train_result;

/* Train net (already created with the right vocabulary) on the token set. */
int fs_train(fs_retnet *net, const fs_token_set *s, const fs_train_opts *o,
	     fs_train_result *res, char *err, size_t errlen);

/* Scoring a model on events with the predictor the policy runs (model/predict.h), with
 * the policy's options: next-token accuracy of each step, how often the first step's
 * candidates hold the next page, and the chain's page accuracy at each step j. */
#define FS_EVAL_MAX_LOOKAHEAD 32
typedef struct fs_eval_result {
	uint64_t events, predicted;       /* events with a prediction (after a thread's 1st) */
	uint64_t top1, top3;              /* next token among the best 1 / 3 */
	uint64_t cand_made, cand_hit;     /* events with candidates; the next page among them */
	uint32_t lookahead;
	uint64_t page_hit[FS_EVAL_MAX_LOOKAHEAD];  /* chain page j == actual j-th next page */
	uint64_t page_made[FS_EVAL_MAX_LOOKAHEAD]; /* chains that reached step j */
	uint64_t page_total[FS_EVAL_MAX_LOOKAHEAD];/* events that have a j-th next page */
	fs_tok_stats tok;
	uint64_t map_bytes;
	double ns_per_event;              /* the predictor's work per event, wall clock */
} fs_eval_result;

int fs_eval_model(const fs_model *m, const fs_event *ev, size_t n, const fs_predict_opts *o,
		  uint64_t map_budget, fs_eval_result *r);

#endif
