/*
 * predict.c - the FarSight predictor: one event -> first-step candidates and a
 * lookahead chain (design in predict.h; measurements behind each rule in
 * docs/MODEL.md, "The policy").
 */
#include "model/predict.h"
#include "model/kernels.h"
#include "common/util.h"

#include <stdlib.h>
#include <string.h>

/* A thread's lookahead chain: the predicted next events (token, page), oldest first, in
 * a ring, and x, the thread's state rolled forward through all of them but the last (so
 * one step more, fed the last token, extends the chain).  When the event that comes is
 * the chain's first and no map changed since (the tokenizer's generation), the chain
 * is still exactly what a fresh computation would give, shifted by one: the event's
 * real step equals the chain's first rolled step (same state, same token), and every
 * later step has the same inputs.  So it is popped and extended by one step instead of
 * recomputed - the reuse of overlapping histories that the recurrent form allows. */
#define RING FS_PRED_MAX /* a power of two, > the longest chain */
struct chain {
	uint64_t gen;          /* the maps' generation the chain was computed under */
	uint32_t head, n;      /* ring of n entries from head */
	int ended;             /* extending found no confident resolvable token */
	int tok[RING];
	uint64_t page[RING];
	fs_rn_state *x;
};

struct fs_predictor {
	const fs_model *m;
	fs_rn_packed *pk; /* the weights in the step kernel's layout */
	fs_predict_opts o;
	fs_tokenizer *tok;
	fs_rn_state **st; /* per thread */
	float *logits;    /* per thread, V each: the last step's */
	uint8_t *seen;    /* per thread: has stepped at least once */
	struct chain *ch; /* per thread: the lookahead chain kept across events */
	size_t nth;
	fs_pred_stats stats;
};

void fs_pred_opts_from_config(const fs_config *cfg, fs_predict_opts *o)
{
	o->min_prob = (float)cfg->min_prob;
	/* at most half the policy's candidates each, so the chain and the fallback
	 * keep room */
	o->width = cfg->candidates < FS_PRED_MAX / 2 ? cfg->candidates : FS_PRED_MAX / 2;
	/* model_lookahead, not the oracle's `lookahead`: each model step costs time on
	 * the fault path (docs/MODEL.md, "Inference cost") */
	o->lookahead = cfg->model_lookahead ? cfg->model_lookahead : 1;
	o->kernel = fs_rn_kernel_parse(cfg->model_kernel); /* -1: refused at creation */
	if (o->lookahead > FS_PRED_MAX / 2)
		o->lookahead = FS_PRED_MAX / 2;
}

int fs_pred_create(const fs_model *m, uint64_t map_budget, const fs_predict_opts *o,
		   fs_predictor **out)
{
	fs_predictor *p = calloc(1, sizeof(*p));
	if (!p)
		return FS_ENOMEM;
	p->m = m;
	p->o = *o;
	if (p->o.width > FS_PRED_MAX)
		p->o.width = FS_PRED_MAX;
	if (p->o.lookahead < 1)
		p->o.lookahead = 1;
	if (p->o.lookahead > FS_PRED_MAX)
		p->o.lookahead = FS_PRED_MAX;
	int rc = fs_tok_create(&m->tok, map_budget, &p->tok);
	if (!rc)
		rc = o->kernel < 0 ? FS_EINVAL : fs_rn_pack(m->net, o->kernel, &p->pk);
	if (rc) {
		fs_pred_destroy(p);
		return rc;
	}
	*out = p;
	return FS_OK;
}

void fs_pred_destroy(fs_predictor *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->nth; i++) {
		free(p->st[i]);
		free(p->ch[i].x);
	}
	free(p->st);
	free(p->logits);
	free(p->seen);
	free(p->ch);
	fs_tok_destroy(p->tok);
	fs_rn_packed_free(p->pk);
	free(p);
}

static int grow_threads(fs_predictor *p, size_t th)
{
	size_t n = p->nth ? p->nth : 4;
	while (n <= th)
		n *= 2;
	size_t V = p->m->net->cfg.vocab;
	fs_rn_state **st = realloc(p->st, n * sizeof(*st));
	if (!st)
		return FS_ENOMEM;
	p->st = st;
	float *lg = realloc(p->logits, n * V * sizeof(float));
	if (!lg)
		return FS_ENOMEM;
	p->logits = lg;
	uint8_t *seen = realloc(p->seen, n);
	if (!seen)
		return FS_ENOMEM;
	p->seen = seen;
	struct chain *ch = realloc(p->ch, n * sizeof(*ch));
	if (!ch)
		return FS_ENOMEM;
	p->ch = ch;
	for (size_t i = p->nth; i < n; i++) {
		p->seen[i] = 0;
		memset(&p->ch[i], 0, sizeof(p->ch[i]));
		p->st[i] = fs_rn_state_new(p->m->net);
		p->ch[i].x = fs_rn_state_new(p->m->net);
		if (!p->st[i] || !p->ch[i].x) {
			free(p->st[i]);
			free(p->ch[i].x);
			return FS_ENOMEM;
		}
		p->nth = i + 1;
	}
	return FS_OK;
}

static int have_page(const uint64_t *a, int n, uint64_t pg)
{
	for (int i = 0; i < n; i++)
		if (a[i] == pg)
			return 1;
	return 0;
}

static inline void chain_push(struct chain *c, int tok, uint64_t page)
{
	uint32_t i = (c->head + c->n++) & (RING - 1);
	c->tok[i] = tok;
	c->page[i] = page;
}

int fs_pred_event(fs_predictor *p, const fs_event *ev, uint32_t width, fs_pred *r)
{
	r->token = -1;
	r->ncand = r->nchain = 0;
	size_t th = ev->thread;
	if (th >= p->nth && grow_threads(p, th))
		return FS_ENOMEM; /* no prediction rather than a failure of the caller */
	const fs_retnet *net = p->m->net;
	const size_t V = net->cfg.vocab;
	float *z = p->logits + th * V;
	float pr[FS_RN_MAX_V];
	int token = fs_tokenize(p->tok, ev);
	r->token = token;
	fs_rn_kstep(p->pk, p->st[th], token, z, pr);
	p->seen[th] = 1;
	p->stats.events++;
	p->stats.steps++;

	/* the chain: still valid if this event is its first and no map changed */
	struct chain *c = &p->ch[th];
	const uint64_t gen = fs_tok_generation(p->tok);
	int keep = !p->o.no_reuse && c->n > 0 && c->gen == gen &&
		   c->tok[c->head] == token && c->page[c->head] == ev->page;
	if (keep) {
		c->head = (c->head + 1) & (RING - 1);
		c->n--;
		p->stats.kept++;
	} else {
		c->n = 0;
	}
	if (width > p->o.width)
		width = p->o.width;
	if (!width)
		return FS_OK; /* learn only */

	/* 1. the first step's most probable tokens that resolve to distinct pages */
	int best = -1;
	uint8_t used[FS_RN_MAX_V]; /* tokens looked at */
	memset(used, 0, V);
	while ((uint32_t)r->ncand < width) {
		int t = -1;
		for (size_t v = FS_TOK_ORD0; v < V; v++)
			if (!used[v] && pr[v] >= p->o.min_prob && (t < 0 || pr[v] > pr[t]))
				t = (int)v;
		if (t < 0)
			break;
		used[t] = 1;
		uint64_t pg = fs_tok_resolve(p->tok, ev->page, t);
		if (pg == FS_NOPAGE || pg == ev->page || have_page(r->cand, r->ncand, pg))
			continue;
		r->cand[r->ncand++] = pg;
		if (best < 0)
			best = t;
	}
	if (best < 0) {
		c->n = 0;
		return FS_OK;
	}

	/* 2. the lookahead chain from the best of them: the kept one if it starts there,
	 * else a new one from this state; extended while a step's best resolvable token
	 * (from the page of the step before) clears min_prob */
	if (!(c->n > 0 && c->tok[c->head] == best && c->page[c->head] == r->cand[0])) {
		c->head = 0;
		c->n = 0;
		c->ended = 0;
		chain_push(c, best, r->cand[0]);
		fs_rn_state_copy(net, c->x, p->st[th]);
	}
	c->gen = gen;
	while (c->n < p->o.lookahead && !c->ended) {
		uint32_t last = (c->head + c->n - 1) & (RING - 1);
		fs_rn_kstep(p->pk, c->x, c->tok[last], NULL, pr);
		p->stats.steps++;
		uint64_t next;
		int t = fs_tok_best_resolvable(p->tok, pr, V, c->page[last], p->o.min_prob, &next);
		if (t < 0)
			c->ended = 1;
		else
			chain_push(c, t, next);
	}
	for (uint32_t j = 0; j < c->n && j < p->o.lookahead; j++)
		r->chain[r->nchain++] = c->page[(c->head + j) & (RING - 1)];
	return FS_OK;
}

int fs_pred_pages(const fs_pred *r, uint64_t cur, uint64_t *out, int max)
{
	int n = 0;
	for (int i = 0; i < r->ncand && n < max; i++)
		out[n++] = r->cand[i]; /* distinct and != cur by construction */
	for (int j = 1; j < r->nchain && n < max; j++)
		if (r->chain[j] != cur && !have_page(out, n, r->chain[j]))
			out[n++] = r->chain[j];
	return n;
}

const float *fs_pred_logits(const fs_predictor *p, uint16_t thread)
{
	if (thread >= p->nth || !p->seen[thread])
		return NULL;
	return p->logits + (size_t)thread * p->m->net->cfg.vocab;
}

const fs_tokenizer *fs_pred_tokenizer(const fs_predictor *p) { return p->tok; }

uint64_t fs_pred_map_bytes(const fs_predictor *p) { return fs_tok_map_bytes(p->tok); }

void fs_pred_get_stats(const fs_predictor *p, fs_pred_stats *out) { *out = p->stats; }
