/*
 * tokenizer.c - events -> tokens through per-page future maps (design in tokenizer.h).
 *
 * Per-thread state is only the thread's previous page, in an array indexed by the
 * event's thread index (grown on demand; the runtime numbers threads densely).
 */
#include "model/tokenizer.h"
#include "common/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const int64_t FS_TOK_DELTAS[FS_TOK_N_DELTAS] = { 1, 2, 3, 4, -1 };

struct fs_tokenizer {
	fs_tok_config c;
	fs_futuremap *fm;
	uint64_t *prev; /* per thread; FS_NOPAGE = not seen yet */
	size_t n_threads;
	fs_tok_stats st;
};

uint32_t fs_tok_vocab_size(const fs_tok_config *c)
{
	return FS_TOK_ORD0 + c->k + (c->vocab == FS_VOCAB_HYBRID ? FS_TOK_N_DELTAS : 0);
}

int fs_tok_config_check(const fs_tok_config *c, char *err, size_t errlen)
{
	if (c->k < 1 || c->k > FS_FM_MAX_K) {
		fs_errf(err, errlen, "future-map slots K=%u is out of range; use 1..%d", c->k,
			FS_FM_MAX_K);
		return FS_EINVAL;
	}
	if (c->vocab > FS_VOCAB_HYBRID) {
		fs_errf(err, errlen, "unknown vocabulary kind %u (0 = ordinal, 1 = hybrid)",
			c->vocab);
		return FS_EINVAL;
	}
	if (c->replace > FS_FM_FIFO) {
		fs_errf(err, errlen, "unknown future-map replacement rule %u (0 lru, 1 lfu, 2 fifo)",
			c->replace);
		return FS_EINVAL;
	}
	return FS_OK;
}

int fs_tok_create(const fs_tok_config *c, uint64_t budget, fs_tokenizer **out)
{
	if (fs_tok_config_check(c, NULL, 0))
		return FS_EINVAL;
	fs_tokenizer *t = calloc(1, sizeof(*t));
	if (!t)
		return FS_ENOMEM;
	t->c = *c;
	int rc = fs_fm_create(c->k, (int)c->replace, budget, &t->fm);
	if (rc) {
		free(t);
		return rc;
	}
	*out = t;
	return FS_OK;
}

void fs_tok_destroy(fs_tokenizer *t)
{
	if (!t)
		return;
	fs_fm_destroy(t->fm);
	free(t->prev);
	free(t);
}

static int delta_token(const fs_tokenizer *t, uint64_t prev, uint64_t page)
{
	int64_t d = (int64_t)(page - prev);
	for (int i = 0; i < FS_TOK_N_DELTAS; i++)
		if (d == FS_TOK_DELTAS[i])
			return FS_TOK_ORD0 + (int)t->c.k + i;
	return -1;
}

int fs_tokenize(fs_tokenizer *t, const fs_event *ev)
{
	size_t th = ev->thread;
	if (th >= t->n_threads) {
		size_t n = t->n_threads ? t->n_threads : 4;
		while (n <= th)
			n *= 2;
		uint64_t *p = realloc(t->prev, n * sizeof(*p));
		if (!p)
			return FS_TOK_START; /* degrade: treat as a fresh thread */
		for (size_t i = t->n_threads; i < n; i++)
			p[i] = FS_NOPAGE;
		t->prev = p;
		t->n_threads = n;
	}
	uint64_t prev = t->prev[th];
	t->prev[th] = ev->page;
	t->st.events++;
	if (prev == FS_NOPAGE) {
		t->st.start++;
		return FS_TOK_START;
	}
	if (t->c.vocab == FS_VOCAB_HYBRID) {
		int d = delta_token(t, prev, ev->page);
		if (d >= 0) {
			t->st.delta++;
			return d;
		}
	}
	uint32_t ord = fs_fm_lookup(t->fm, prev, ev->page);
	if (ord) {
		t->st.ordinal++;
		return FS_TOK_ORD0 + (int)ord - 1;
	}
	fs_fm_insert(t->fm, prev, ev->page);
	t->st.new_++;
	return FS_TOK_NEW;
}

uint64_t fs_tok_resolve(const fs_tokenizer *t, uint64_t page, int token)
{
	if (page == FS_NOPAGE || token < FS_TOK_ORD0)
		return FS_NOPAGE;
	uint32_t i = (uint32_t)(token - FS_TOK_ORD0);
	if (i < t->c.k)
		return fs_fm_slot(t->fm, page, i + 1);
	i -= t->c.k;
	if (t->c.vocab == FS_VOCAB_HYBRID && i < FS_TOK_N_DELTAS) {
		int64_t d = FS_TOK_DELTAS[i];
		if (d < 0 && page < (uint64_t)-d)
			return FS_NOPAGE;
		return page + (uint64_t)d;
	}
	return FS_NOPAGE;
}

uint64_t fs_tok_generation(const fs_tokenizer *t) { return fs_fm_generation(t->fm); }

int fs_tok_best_resolvable(const fs_tokenizer *t, const float *p, size_t V, uint64_t page,
			   float min_prob, uint64_t *out_page)
{
	/* the same choice as trying fs_tok_resolve on every token, in token order, keeping
	 * the first of the most probable: ordinals from the map's slots, then deltas */
	int best = -1;
	uint64_t best_page = FS_NOPAGE;
	*out_page = FS_NOPAGE;
	if (page == FS_NOPAGE)
		return -1;
	const uint64_t *slot = fs_fm_slots(t->fm, page);
	size_t nk = t->c.k < V - FS_TOK_ORD0 ? t->c.k : V - FS_TOK_ORD0;
	for (size_t i = 0; slot && i < nk; i++) {
		size_t v = FS_TOK_ORD0 + i;
		if (p[v] < min_prob || (best >= 0 && p[v] <= p[best]) || slot[i] == FS_NOPAGE)
			continue;
		best = (int)v;
		best_page = slot[i];
	}
	for (size_t v = FS_TOK_ORD0 + t->c.k; v < V; v++) {
		if (p[v] < min_prob || (best >= 0 && p[v] <= p[best]))
			continue;
		uint64_t pg = fs_tok_resolve(t, page, (int)v);
		if (pg == FS_NOPAGE)
			continue;
		best = (int)v;
		best_page = pg;
	}
	*out_page = best_page;
	return best;
}

uint64_t fs_tok_map_bytes(const fs_tokenizer *t)
{
	return fs_fm_bytes(t->fm) + t->n_threads * sizeof(uint64_t);
}

void fs_tok_get_stats(const fs_tokenizer *t, fs_tok_stats *out) { *out = t->st; }
const fs_futuremap *fs_tok_maps(const fs_tokenizer *t) { return t->fm; }

const char *fs_tok_name(const fs_tok_config *c, int token, char *buf, size_t len)
{
	if (token == FS_TOK_PAD)
		return "pad";
	if (token == FS_TOK_START)
		return "start";
	if (token == FS_TOK_NEW)
		return "new";
	uint32_t i = (uint32_t)(token - FS_TOK_ORD0);
	if (i < c->k)
		snprintf(buf, len, "ord%u", i + 1);
	else if (c->vocab == FS_VOCAB_HYBRID && i - c->k < FS_TOK_N_DELTAS)
		snprintf(buf, len, "%+lld", (long long)FS_TOK_DELTAS[i - c->k]);
	else
		snprintf(buf, len, "?%d", token);
	return buf;
}
