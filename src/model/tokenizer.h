/*
 * tokenizer.h - the FarSight tokenizer (internal; one implementation for the runtime
 * policy, `farsight train` and `farsight eval`, so training sees exactly the tokens
 * the runtime produces).
 *
 * Each event is a transition prev -> page, where prev is the previous page of the same
 * thread.  Vocabulary (token ids):
 *
 *   0          FS_TOK_PAD    padding in training batches; never produced, never a target
 *   1          FS_TOK_START  first event of a thread (no previous page)
 *   2          FS_TOK_NEW    page is in no slot of prev's map (and, in the hybrid
 *                            vocabulary, no small delta): it is inserted into the map
 *   3..K+2     ordinal 1..K  page is in slot i of prev's future map
 *   K+3..      deltas        hybrid vocabulary only: page - prev is one of
 *                            FS_TOK_DELTAS (+1 +2 +3 +4 -1)
 *
 * Hybrid rule: a transition whose delta is in the table becomes the delta token and is
 * *not* stored in the map, so map slots are kept for the irregular successors only and
 * a cold sequential scan is predictable before any map exists.  Otherwise the ordinal
 * (if present) or NEW (then inserted).
 *
 * resolve(page, token) turns a predicted token back into a page: ordinal -> slot of
 * page's map, delta -> page + delta, anything else -> FS_NOPAGE.  A lookahead chain
 * resolves step j against the page predicted at step j-1.
 */
#ifndef FS_TOKENIZER_H
#define FS_TOKENIZER_H

#include "farsight.h"
#include "model/futuremap.h"

enum { FS_TOK_PAD = 0, FS_TOK_START = 1, FS_TOK_NEW = 2, FS_TOK_ORD0 = 3 };
enum { FS_VOCAB_ORDINAL = 0, FS_VOCAB_HYBRID = 1 };

#define FS_TOK_N_DELTAS 5
extern const int64_t FS_TOK_DELTAS[FS_TOK_N_DELTAS];

typedef struct fs_tok_config {
	uint32_t k;          /* future-map slots */
	uint32_t vocab;      /* FS_VOCAB_ORDINAL or FS_VOCAB_HYBRID */
	uint32_t replace;    /* FS_FM_LRU, FS_FM_LFU, FS_FM_FIFO */
} fs_tok_config;

typedef struct fs_tokenizer fs_tokenizer;

typedef struct fs_tok_stats {
	uint64_t events, start, new_, ordinal, delta;
} fs_tok_stats;

/* Vocabulary size of a configuration. */
uint32_t fs_tok_vocab_size(const fs_tok_config *c);
/* Checks a configuration; FS_EINVAL with a sentence in err. */
int fs_tok_config_check(const fs_tok_config *c, char *err, size_t errlen);

/* map_budget_bytes bounds the future maps (0 = unbounded). */
int fs_tok_create(const fs_tok_config *c, uint64_t map_budget_bytes, fs_tokenizer **out);
void fs_tok_destroy(fs_tokenizer *t);

/* Token of an event; updates the maps and the thread's previous page. */
int fs_tokenize(fs_tokenizer *t, const fs_event *ev);
/* Predicted page for `token` following `page`, or FS_NOPAGE. */
uint64_t fs_tok_resolve(const fs_tokenizer *t, uint64_t page, int token);

/* The future maps' generation (fs_fm_generation): unchanged means every resolve
 * answers as before. */
uint64_t fs_tok_generation(const fs_tokenizer *t);
/* The most probable token that resolves to a page from `page` (an ordinal whose slot
 * is filled, or a delta) and whose probability p[] is at least min_prob: "new",
 * "start" and empty slots are skipped, so a prediction step is never wasted on a token
 * that names no page.  Ties go to the lowest token.  Returns the token and its page in
 * *out_page, or -1.  One map lookup. */
int fs_tok_best_resolvable(const fs_tokenizer *t, const float *p, size_t V, uint64_t page,
			   float min_prob, uint64_t *out_page);

uint64_t fs_tok_map_bytes(const fs_tokenizer *t);
void fs_tok_get_stats(const fs_tokenizer *t, fs_tok_stats *out);
const fs_futuremap *fs_tok_maps(const fs_tokenizer *t);
/* "start", "new", "ord3", "+1", ... for a token (static or in buf). */
const char *fs_tok_name(const fs_tok_config *c, int token, char *buf, size_t len);

#endif
