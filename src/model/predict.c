/*
 * predict.c - the FarSight predictor: one event -> first-step candidates and a
 * lookahead chain (design in predict.h; measurements behind each rule in
 * docs/MODEL.md, "The policy").
 */
#include "model/predict.h"
#include "common/util.h"

#include <stdlib.h>
#include <string.h>

struct fs_predictor {
	const fs_model *m;
	fs_predict_opts o;
	fs_tokenizer *tok;
	fs_rn_state **st; /* per thread */
	float *logits;    /* per thread, V each: the last step's */
	uint8_t *seen;    /* per thread: has stepped at least once */
	size_t nth;
	fs_rn_state *tmp; /* the chain's rolled copy */
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
	if (!rc && !(p->tmp = fs_rn_state_new(m->net)))
		rc = FS_ENOMEM;
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
	for (size_t i = 0; i < p->nth; i++)
		free(p->st[i]);
	free(p->st);
	free(p->logits);
	free(p->seen);
	free(p->tmp);
	fs_tok_destroy(p->tok);
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
	for (size_t i = p->nth; i < n; i++) {
		p->seen[i] = 0;
		if (!(p->st[i] = fs_rn_state_new(p->m->net))) {
			p->nth = i;
			return FS_ENOMEM;
		}
		p->nth = i + 1;
	}
	return FS_OK;
}

int fs_best_resolvable(const fs_tokenizer *tok, const float *p, size_t V, uint64_t page,
		       float min_prob, uint64_t *out_page)
{
	int best = -1;
	uint64_t best_page = FS_NOPAGE;
	for (size_t v = FS_TOK_ORD0; v < V; v++) {
		if (p[v] < min_prob || (best >= 0 && p[v] <= p[best]))
			continue;
		uint64_t pg = fs_tok_resolve(tok, page, (int)v);
		if (pg == FS_NOPAGE)
			continue;
		best = (int)v;
		best_page = pg;
	}
	*out_page = best_page;
	return best;
}

static int have_page(const uint64_t *a, int n, uint64_t pg)
{
	for (int i = 0; i < n; i++)
		if (a[i] == pg)
			return 1;
	return 0;
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
	float pr[FS_RN_MAX_V], z2[FS_RN_MAX_V];
	int token = fs_tokenize(p->tok, ev);
	r->token = token;
	fs_rn_step(net, p->st[th], token, z);
	p->seen[th] = 1;
	if (width > p->o.width)
		width = p->o.width;
	if (!width)
		return FS_OK; /* learn only */
	fs_rn_softmax(z, V, pr);

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
	if (best < 0)
		return FS_OK;

	/* 2. the lookahead chain from the best of them */
	r->chain[r->nchain++] = r->cand[0];
	if (p->o.lookahead > 1) {
		fs_rn_state_copy(net, p->tmp, p->st[th]);
		uint64_t page = r->cand[0];
		int t = best;
		for (uint32_t j = 1; j < p->o.lookahead; j++) {
			fs_rn_step(net, p->tmp, t, z2);
			fs_rn_softmax(z2, V, pr);
			uint64_t next;
			t = fs_best_resolvable(p->tok, pr, V, page, p->o.min_prob, &next);
			if (t < 0)
				break;
			r->chain[r->nchain++] = page = next;
		}
	}
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
