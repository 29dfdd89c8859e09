/*
 * train.c - tokenizing traces into training windows, the training loop, and scoring a
 * model with its recurrent form (design in train.h).
 *
 * Training loop: windows shuffled per epoch by a seeded generator, batches of B
 * windows, loss = mean cross-entropy over non-pad targets, gradients clipped to global
 * norm 1, AdamW with a linear warm-up (first 2% of steps) and cosine decay to lr/10.
 * Single-threaded and clock-free (except the tokens/s it prints), so the same traces,
 * options and seed give a bitwise-identical model.
 */
#include "model/train.h"
#include "common/util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void fs_train_default_opts(fs_train_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->epochs = 4;
	o->seed = 1;
	o->lr = 5e-3f;
	o->weight_decay = 0.01f;
	o->batch = 16;
	o->held_out = 0.1f;
	o->map_budget = 0;
}

int fs_token_set_add(fs_token_set *s, const fs_tok_config *c, uint64_t map_budget,
		     const fs_event *ev, size_t n)
{
	fs_tokenizer *t = NULL;
	int rc = fs_tok_create(c, map_budget, &t);
	if (rc)
		return rc;
	/* count events per thread, then fill */
	size_t nth = 0;
	for (size_t i = 0; i < n; i++)
		nth = ev[i].thread + 1u > nth ? ev[i].thread + 1u : nth;
	size_t *cnt = calloc(nth ? nth : 1, sizeof(size_t));
	int **tok = realloc(s->tok, (s->n + nth) * sizeof(int *));
	size_t *len = realloc(s->len, (s->n + nth) * sizeof(size_t));
	if (tok)
		s->tok = tok;
	if (len)
		s->len = len;
	if (!cnt || !tok || !len) {
		free(cnt);
		fs_tok_destroy(t);
		return FS_ENOMEM;
	}
	for (size_t i = 0; i < n; i++)
		cnt[ev[i].thread]++;
	size_t base = s->n;
	for (size_t th = 0; th < nth; th++) {
		s->tok[base + th] = malloc((cnt[th] ? cnt[th] : 1) * sizeof(int));
		s->len[base + th] = 0;
		if (!s->tok[base + th]) {
			for (size_t j = 0; j < th; j++)
				free(s->tok[base + j]);
			free(cnt);
			fs_tok_destroy(t);
			return FS_ENOMEM;
		}
	}
	for (size_t i = 0; i < n; i++) {
		size_t th = ev[i].thread;
		s->tok[base + th][s->len[base + th]++] = fs_tokenize(t, &ev[i]);
	}
	s->n += nth;
	fs_tok_stats st;
	fs_tok_get_stats(t, &st);
	s->stats.events += st.events;
	s->stats.start += st.start;
	s->stats.new_ += st.new_;
	s->stats.ordinal += st.ordinal;
	s->stats.delta += st.delta;
	uint64_t mb = fs_tok_map_bytes(t);
	s->map_bytes = mb > s->map_bytes ? mb : s->map_bytes;
	free(cnt);
	fs_tok_destroy(t);
	return FS_OK;
}

void fs_token_set_free(fs_token_set *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->tok[i]);
	free(s->tok);
	free(s->len);
	memset(s, 0, sizeof(*s));
}

/* A window: stream, first input position, number of real inputs (<= T). */
struct window {
	uint32_t stream;
	uint64_t start;
	uint32_t n;
};

struct windows {
	struct window *w;
	size_t n, cap;
};

static int add_windows(struct windows *ws, uint32_t stream, size_t from, size_t to, uint32_t T)
{
	/* inputs from..to-2 predict targets from+1..to-1 */
	for (size_t s = from; s + 1 < to; s += T) {
		if (ws->n == ws->cap) {
			size_t c = ws->cap ? ws->cap * 2 : 1024;
			struct window *p = realloc(ws->w, c * sizeof(*p));
			if (!p)
				return FS_ENOMEM;
			ws->w = p;
			ws->cap = c;
		}
		size_t n = to - 1 - s;
		ws->w[ws->n++] = (struct window){ stream, s, (uint32_t)(n < T ? n : T) };
	}
	return FS_OK;
}

static void fill_batch(const fs_token_set *s, const struct window *w, size_t nw, uint32_t T,
		       int *in, int *tg)
{
	for (size_t b = 0; b < nw; b++) {
		const int *tok = s->tok[w[b].stream];
		for (uint32_t t = 0; t < T; t++) {
			if (t < w[b].n) {
				in[b * T + t] = tok[w[b].start + t];
				tg[b * T + t] = tok[w[b].start + t + 1];
			} else {
				in[b * T + t] = FS_TOK_PAD;
				tg[b * T + t] = FS_TOK_PAD;
			}
		}
	}
}

static uint64_t count_correct(const float *logits, const int *tg, size_t N, size_t V)
{
	uint64_t c = 0;
	for (size_t n = 0; n < N; n++) {
		if (tg[n] == FS_TOK_PAD)
			continue;
		const float *z = logits + n * V;
		size_t best = 0;
		for (size_t v = 1; v < V; v++)
			if (z[v] > z[best])
				best = v;
		c += (int)best == tg[n];
	}
	return c;
}

static uint64_t rng_next(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545f4914f6cdd1dull;
}

static void evaluate_windows(fs_retnet *net, const fs_token_set *s, const struct windows *ws,
			     uint32_t B, uint32_t T, int *in, int *tg, float *loss, float *acc,
			     uint64_t *tokens)
{
	double lsum = 0.0;
	uint64_t correct = 0, cnt = 0;
	for (size_t i = 0; i < ws->n; i += B) {
		size_t nb = ws->n - i < B ? ws->n - i : B;
		fill_batch(s, ws->w + i, nb, T, in, tg);
		for (size_t j = nb * T; j < (size_t)B * T; j++)
			in[j] = tg[j] = FS_TOK_PAD;
		float l = fs_rn_forward(net, in, tg, B, T);
		uint64_t valid = 0;
		for (size_t j = 0; j < (size_t)B * T; j++)
			valid += tg[j] != FS_TOK_PAD;
		lsum += (double)l * valid;
		cnt += valid;
		correct += count_correct(fs_rn_logits(net), tg, (size_t)B * T, net->cfg.vocab);
	}
	*loss = cnt ? (float)(lsum / cnt) : 0.0f;
	*acc = cnt ? (float)correct / cnt : 0.0f;
	*tokens = cnt;
}

int fs_train(fs_retnet *net, const fs_token_set *s, const fs_train_opts *o,
	     fs_train_result *res, char *err, size_t errlen)
{
	const uint32_t T = net->cfg.seq_len, B = o->batch ? o->batch : 16;
	struct windows tr = { 0 }, ho = { 0 };
	int rc = FS_OK;
	memset(res, 0, sizeof(*res));
	for (size_t i = 0; i < s->n && !rc; i++) {
		size_t len = s->len[i];
		size_t cut = len - (size_t)((double)len * o->held_out);
		rc = add_windows(&tr, (uint32_t)i, 0, cut, T);
		if (!rc && cut < len)
			rc = add_windows(&ho, (uint32_t)i, cut > 0 ? cut - 1 : 0, len, T);
	}
	int *in = malloc((size_t)B * T * sizeof(int)), *tg = malloc((size_t)B * T * sizeof(int));
	if (rc || !in || !tg || fs_rn_train_init(net, B, T)) {
		rc = FS_ENOMEM;
		goto out;
	}
	if (tr.n == 0) {
		fs_errf(err, errlen, "the traces give no training windows (need at least 2 events "
			"in a thread)");
		rc = FS_EINVAL;
		goto out;
	}
	uint64_t rng = o->seed * 0x9e3779b97f4a7c15ull + 99;
	size_t per_epoch = o->max_windows && o->max_windows < tr.n ? o->max_windows : tr.n;
	uint64_t steps_per_epoch = (per_epoch + B - 1) / B;
	uint64_t total = steps_per_epoch * o->epochs, step = 0;
	uint64_t warm = total / 50 + 1;
	for (uint32_t ep = 0; ep < o->epochs; ep++) {
		uint64_t t0 = fs_now_ns();
		/* Fisher-Yates shuffle of the window order */
		for (size_t i = tr.n - 1; i > 0; i--) {
			size_t j = rng_next(&rng) % (i + 1);
			struct window tmp = tr.w[i];
			tr.w[i] = tr.w[j];
			tr.w[j] = tmp;
		}
		double lsum = 0.0;
		uint64_t correct = 0, cnt = 0;
		for (size_t i = 0; i < per_epoch; i += B) {
			size_t nb = per_epoch - i < B ? per_epoch - i : B;
			fill_batch(s, tr.w + i, nb, T, in, tg);
			for (size_t j = nb * T; j < (size_t)B * T; j++)
				in[j] = tg[j] = FS_TOK_PAD;
			fs_rn_zero_grad(net);
			float l = fs_rn_forward(net, in, tg, B, T);
			fs_rn_backward(net);
			fs_rn_clip_grad(net, 1.0f);
			float lr;
			if (step < warm)
				lr = o->lr * (float)(step + 1) / (float)warm;
			else
				lr = o->lr * (0.1f + 0.9f * 0.5f * (1.0f + cosf(3.14159265f *
					(float)(step - warm) / (float)(total - warm + 1))));
			fs_rn_adamw(net, lr, 0.9f, 0.99f, 1e-8f, o->weight_decay);
			step++;
			uint64_t valid = 0;
			for (size_t j = 0; j < (size_t)B * T; j++)
				valid += tg[j] != FS_TOK_PAD;
			lsum += (double)l * valid;
			cnt += valid;
			correct += count_correct(fs_rn_logits(net), tg, (size_t)B * T, net->cfg.vocab);
		}
		res->train_loss = cnt ? (float)(lsum / cnt) : 0.0f;
		res->train_acc = cnt ? (float)correct / cnt : 0.0f;
		res->train_tokens = cnt;
		double secs = (fs_now_ns() - t0) / 1e9;
		evaluate_windows(net, s, &ho, B, T, in, tg, &res->held_loss, &res->held_acc,
				 &res->held_tokens);
		if (o->progress) {
			fprintf(o->progress,
				"epoch %u/%u  loss %.4f  top-1 train %.3f  held-out %.3f (loss %.4f, "
				"%llu tokens)  %.0f tokens/s\n",
				ep + 1, o->epochs, res->train_loss, res->train_acc, res->held_acc,
				res->held_loss, (unsigned long long)res->held_tokens,
				secs > 0 ? cnt / secs : 0.0);
			fflush(o->progress);
		}
	}
out:
	free(in);
	free(tg);
	free(tr.w);
	free(ho.w);
	return rc;
}

/* ---- recurrent scoring ---- */

int fs_eval_model(const fs_model *m, const fs_event *ev, size_t n, const fs_predict_opts *o,
		  uint64_t map_budget, fs_eval_result *r)
{
	memset(r, 0, sizeof(*r));
	fs_predict_opts po = *o;
	if (po.lookahead > FS_EVAL_MAX_LOOKAHEAD)
		po.lookahead = FS_EVAL_MAX_LOOKAHEAD;
	if (po.lookahead < 1)
		po.lookahead = 1;
	r->lookahead = po.lookahead;
	const size_t V = m->net->cfg.vocab;
	fs_predictor *pred = NULL;
	int rc = fs_pred_create(m, map_budget, &po, &pred);
	if (rc)
		return rc;
	size_t nth = 0;
	for (size_t i = 0; i < n; i++)
		nth = ev[i].thread + 1u > nth ? ev[i].thread + 1u : nth;
	/* nxt[i] = index of the same thread's next event */
	size_t *nxt = malloc((n ? n : 1) * sizeof(size_t)), *last = malloc((nth ? nth : 1) * sizeof(size_t));
	if (!nxt || !last) {
		rc = FS_ENOMEM;
		goto out;
	}
	for (size_t t = 0; t < nth; t++)
		last[t] = SIZE_MAX;
	for (size_t i = n; i-- > 0;) {
		nxt[i] = last[ev[i].thread];
		last[ev[i].thread] = i;
	}
	uint64_t t0 = fs_now_ns();
	for (size_t i = 0; i < n && !rc; i++) {
		/* the prediction made at the thread's previous event, scored against the
		 * token this event turns out to be */
		const float *prev = fs_pred_logits(pred, ev[i].thread);
		float z[FS_RN_MAX_V];
		if (prev)
			memcpy(z, prev, V * sizeof(float));
		fs_pred pr;
		if ((rc = fs_pred_event(pred, &ev[i], po.width, &pr)))
			break;
		if (prev) {
			r->predicted++;
			int better = 0;
			for (size_t v = 0; v < V; v++)
				better += z[v] > z[pr.token];
			r->top1 += better == 0;
			r->top3 += better < 3;
		}
		r->events++;
		size_t k = nxt[i];
		if (k != SIZE_MAX && pr.ncand > 0) {
			r->cand_made++;
			for (int c = 0; c < pr.ncand; c++)
				r->cand_hit += pr.cand[c] == ev[k].page;
		}
		for (uint32_t j = 0; j < po.lookahead && k != SIZE_MAX; j++, k = nxt[k]) {
			r->page_total[j]++;
			if ((int)j < pr.nchain) {
				r->page_made[j]++;
				r->page_hit[j] += pr.chain[j] == ev[k].page;
			}
		}
	}
	r->ns_per_event = n ? (double)(fs_now_ns() - t0) / (double)n : 0.0;
	fs_tok_get_stats(fs_pred_tokenizer(pred), &r->tok);
	r->map_bytes = fs_pred_map_bytes(pred);
out:
	free(nxt);
	free(last);
	fs_pred_destroy(pred);
	return rc;
}
