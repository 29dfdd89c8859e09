/*
 * model_step.c - micro-benchmark of FarSight inference, all in one run:
 *   1. ns per recurrent step and per step + 8-step lookahead (a state copy and 8 more
 *      steps, each with its softmax) for every step kernel the CPU has (model/kernels.h:
 *      avx512, avx2, portable, generic), next to a deliberately naive scalar
 *      implementation of the same step (dot-product loops over W^T, no vectorisation);
 *   2. the whole farsight policy per event (src/prefetch/farsight.c as the runtime runs
 *      it: tokenizer, future maps, first-step candidates, the chain, the leap fallback)
 *      with model_lookahead 8 and min_prob 0, so every chain runs its 8 steps, on a
 *      repeated pointer chase whose maps are known, per kernel: each event is the one
 *      its chain predicted, so the chain is shifted and extended by one step (predict.h);
 *   3. the worst case: the predictor with every chain recomputed (8 steps per event),
 *      as when the previous prediction was wrong.
 * Goal (issue 17): the whole policy with an 8-step lookahead under 1 us per event.
 * Not a test: it measures and prints.
 *
 *   build/bench/model_step [iterations] [model.fsm]   (default models/default.fsm; a
 *   randomly initialised model of the default shape if that file is missing)
 */
#include "model/kernels.h"
#include "model/modelfile.h"
#include "model/predict.h"
#include "model/retnet.h"
#include "model/tokenizer.h"
#include "prefetch/policy.h"
#include "common/util.h"

#include <unistd.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* CPU time of this thread: on a shared 2-vCPU machine wall time also counts the
 * time other processes ran; both are printed. */
static uint64_t cpu_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ---- the naive step: same math, written as a first draft would be ---- */
struct naive_state {
	double pos;
	float S[4 * 4 * 16 * 16]; /* enough for the default model (checked in main) */
};

__attribute__((optimize("no-tree-vectorize"))) static void
naive_matvec(float *out, const float *x, const float *w, size_t C, size_t OC)
{
	for (size_t j = 0; j < OC; j++) { /* column-wise dot products: strided, scalar */
		float s = 0.0f;
		for (size_t c = 0; c < C; c++)
			s += x[c] * w[c * OC + j];
		out[j] = s;
	}
}

__attribute__((optimize("no-tree-vectorize"))) static void
naive_step(const fs_retnet *m, struct naive_state *s, int token, float *logits)
{
	const fs_retnet_config *c = &m->cfg;
	size_t D = c->d_model, F = c->d_ffn, V = c->vocab, H = c->n_heads, e = D / H;
	float x[FS_RN_MAX_D], h[FS_RN_MAX_D], a[4 * FS_RN_MAX_D], y[FS_RN_MAX_D], t[FS_RN_MAX_D],
		u[FS_RN_MAX_F];
	memcpy(x, m->w.wte + (size_t)token * D, D * sizeof(float));
	for (uint32_t l = 0; l < c->n_layers; l++) {
		const fs_rn_layer *W = &m->w.layer[l];
		float ss = 0;
		for (size_t i = 0; i < D; i++)
			ss += x[i] * x[i];
		for (size_t i = 0; i < D; i++)
			h[i] = x[i] / sqrtf(ss / D + c->eps) * W->ln1[i];
		naive_matvec(a, h, W->w1, D, 4 * D);
		for (size_t hd = 0; hd < H; hd++) {
			float *q = a + hd * e, *k = a + D + hd * e, *v = a + 2 * D + hd * e;
			for (size_t i = 0; i < e / 2; i++) { /* sin/cos every step */
				double ang = s->pos * pow(c->rope_base, -2.0 * i / e);
				float cs = (float)cos(ang), sn = (float)sin(ang);
				float q0 = q[2 * i], q1 = q[2 * i + 1], k0 = k[2 * i], k1 = k[2 * i + 1];
				q[2 * i] = q0 * cs - q1 * sn;
				q[2 * i + 1] = q0 * sn + q1 * cs;
				k[2 * i] = (k0 * cs - k1 * sn) / sqrtf((float)e);
				k[2 * i + 1] = (k0 * sn + k1 * cs) / sqrtf((float)e);
			}
			float *S = s->S + (l * H + hd) * e * e, o[64];
			for (size_t i = 0; i < e; i++)
				for (size_t j = 0; j < e; j++)
					S[i * e + j] = c->gamma[hd] * S[i * e + j] + k[i] * v[j];
			for (size_t j = 0; j < e; j++) {
				o[j] = 0;
				for (size_t i = 0; i < e; i++)
					o[j] += q[i] * S[i * e + j];
			}
			float mu = 0, var = 0;
			for (size_t j = 0; j < e; j++)
				mu += o[j] / e;
			for (size_t j = 0; j < e; j++)
				var += (o[j] - mu) * (o[j] - mu) / e;
			for (size_t j = 0; j < e; j++) {
				float g = a[3 * D + hd * e + j];
				y[hd * e + j] = g / (1 + expf(-g)) * (o[j] - mu) / sqrtf(var + c->eps);
			}
		}
		naive_matvec(t, y, W->wo, D, D);
		for (size_t i = 0; i < D; i++)
			x[i] += t[i];
		ss = 0;
		for (size_t i = 0; i < D; i++)
			ss += x[i] * x[i];
		for (size_t i = 0; i < D; i++)
			h[i] = x[i] / sqrtf(ss / D + c->eps) * W->ln2[i];
		naive_matvec(u, h, W->wf1, D, F);
		for (size_t i = 0; i < F; i++)
			u[i] = 0.5f * u[i] * (1 + tanhf(0.7978845608f * (u[i] + 0.044715f * u[i] * u[i] * u[i])));
		naive_matvec(t, u, W->wf2, F, D);
		for (size_t i = 0; i < D; i++)
			x[i] += t[i];
	}
	float ss = 0;
	for (size_t i = 0; i < D; i++)
		ss += x[i] * x[i];
	for (size_t i = 0; i < D; i++)
		h[i] = x[i] / sqrtf(ss / D + c->eps) * m->w.lnf[i];
	naive_matvec(logits, h, m->w.wout, D, V);
	s->pos += 1;
}

static int argmax(const float *z, size_t V)
{
	size_t b = 0;
	for (size_t i = 1; i < V; i++)
		if (z[i] > z[b])
			b = i;
	return (int)b;
}

static volatile int sink;

/* Each figure is the median of REPS rounds (the VM's speed drifts by tens of percent
 * between rounds even with the machine to itself). */
#define REPS 5
static double median(double *v)
{
	for (int i = 1; i < REPS; i++)
		for (int j = i; j > 0 && v[j] < v[j - 1]; j--) {
			double t = v[j];
			v[j] = v[j - 1];
			v[j - 1] = t;
		}
	return v[REPS / 2];
}
/* out = median ns per iteration of the statement(s) over n iterations (variable i) */
#define TIMED(out, n, ...)                                                       \
	do {                                                                     \
		double v_[REPS];                                                 \
		for (int r_ = 0; r_ < REPS; r_++) {                              \
			uint64_t t_ = cpu_ns();                                  \
			for (long i = 0; i < (n); i++) {                         \
				__VA_ARGS__;                                     \
			}                                                        \
			v_[r_] = (double)(cpu_ns() - t_) / (double)(n);          \
		}                                                                \
		(out) = median(v_);                                              \
	} while (0)

/* step and step + L lookahead with a packed kernel, ns per call */
static void time_kernel(const fs_retnet *m, const fs_rn_packed *pk, long iters, int L,
			double *step, double *full)
{
	fs_rn_state *s = fs_rn_state_new(m), *tmp = fs_rn_state_new(m);
	float z[FS_RN_MAX_V], p[FS_RN_MAX_V];
	for (int i = 0; i < 1000; i++)
		fs_rn_kstep(pk, s, 3 + i % 10, z, p);
	TIMED(*step, iters / REPS, fs_rn_kstep(pk, s, 3 + (int)(i % 13), z, p));
	TIMED(*full, iters / 4 / REPS, {
		fs_rn_kstep(pk, s, 3 + (int)(i % 13), z, p);
		fs_rn_state_copy(m, tmp, s);
		int tok = argmax(p, m->cfg.vocab);
		for (int j = 0; j < L; j++) {
			fs_rn_kstep(pk, tmp, tok, NULL, p);
			tok = argmax(p, m->cfg.vocab);
		}
		sink += tok;
	});
	free(s);
	free(tmp);
}

#define CYC 4096
static uint64_t cyc[CYC];

static void make_cycle(void)
{
	uint64_t r = 12345;
	for (int i = 0; i < CYC; i++)
		cyc[i] = 1000 + (uint64_t)i * 64; /* far apart: no deltas */
	for (int i = CYC - 1; i > 0; i--) {
		r = r * 6364136223846793005ull + 1442695040888963407ull;
		int j = (int)((r >> 33) % (uint64_t)(i + 1));
		uint64_t t = cyc[i];
		cyc[i] = cyc[j];
		cyc[j] = t;
	}
}

/* The predictor alone with every chain recomputed (no reuse across events: what an
 * event costs when the previous prediction was wrong), same stream. */
static int time_recompute(const char *model, int kernel, long iters, double *ns, double *steps)
{
	char err[512];
	fs_model m;
	if (fs_model_load(model, &m, err, sizeof(err)))
		return -1;
	fs_predict_opts po = { .min_prob = 0.0f, .width = 4, .lookahead = 8, .kernel = kernel,
			       .no_reuse = 1 };
	fs_predictor *p;
	if (fs_pred_create(&m, 64u << 20, &po, &p))
		return -1;
	fs_event ev = { .kind = FS_EV_MISS };
	fs_pred r;
	for (int i = 0; i < 2 * CYC; i++) {
		ev.page = cyc[i % CYC];
		fs_pred_event(p, &ev, 4, &r);
	}
	fs_pred_stats s0, s1;
	fs_pred_get_stats(p, &s0);
	TIMED(*ns, iters / REPS, {
		ev.page = cyc[i % CYC];
		fs_pred_event(p, &ev, 4, &r);
		sink += r.nchain;
	});
	fs_pred_get_stats(p, &s1);
	*steps = (double)(s1.steps - s0.steps) / (double)(iters / REPS * REPS);
	fs_pred_destroy(p);
	fs_model_free(&m);
	return 0;
}

/* The whole policy per event on a repeated chase over CYC pages (known after the first
 * pass, so the chain runs its 8 steps): ns per event and pages returned per event. */
static int time_policy(const char *model, const char *kernel, long iters, double *ns,
		       double *pages)
{
	char err[512];
	fs_config cfg;
	if (fs_config_from_env(&cfg, err, sizeof(err)))
		return -1;
	cfg.prefetch = FS_PREFETCH_FARSIGHT;
	snprintf(cfg.model, sizeof(cfg.model), "%s", model);
	snprintf(cfg.model_kernel, sizeof(cfg.model_kernel), "%s", kernel);
	cfg.model_lookahead = 8;
	cfg.min_prob = 0.0;
	fs_policy *p = NULL;
	if (fs_policy_create(&cfg, &p, err, sizeof(err))) {
		fprintf(stderr, "model_step: %s\n", err);
		return -1;
	}
	uint64_t out[FS_POLICY_MAX_CANDIDATES];
	fs_event ev = { .kind = FS_EV_MISS };
	for (int i = 0; i < 2 * CYC; i++) { /* two passes: the maps learn the cycle */
		ev.page = cyc[i % CYC];
		p->ops->on_event(p, &ev, out, FS_POLICY_MAX_CANDIDATES);
	}
	uint64_t total = 0, tns = 0;
	TIMED(*ns, iters / REPS, {
		ev.page = cyc[i % CYC];
		ev.time_ns = (tns += 1000);
		total += (uint64_t)p->ops->on_event(p, &ev, out, FS_POLICY_MAX_CANDIDATES);
	});
	*pages = (double)total / (double)(iters / REPS * REPS);
	p->ops->destroy(p);
	return 0;
}

int main(int argc, char **argv)
{
	long iters = argc > 1 ? atol(argv[1]) : 200000;
	const char *model = argc > 2 ? argv[2] : FS_MODEL_DEFAULT_PATH;
	char tmpmodel[64] = "";
	fs_model fm;
	fs_retnet *m = NULL;
	char err[512];
	const char *what = model;
	if (access(model, R_OK) == 0 && fs_model_load(model, &fm, err, sizeof(err)) == 0) {
		m = fm.net;
	} else {
		fs_tok_config tc = { .k = 8, .vocab = FS_VOCAB_HYBRID, .replace = FS_FM_LRU };
		fs_retnet_config c;
		fs_rn_default_config(&c, fs_tok_vocab_size(&tc));
		if (fs_rn_create(&c, &m))
			return 1;
		fs_rn_init_weights(m, 42);
		snprintf(tmpmodel, sizeof(tmpmodel), "/tmp/model_step_%d.fsm", (int)getpid());
		if (fs_model_save(tmpmodel, m, &tc, "model_step random", err, sizeof(err)))
			return 1;
		model = tmpmodel;
		what = "random weights (no model file)";
	}
	const fs_retnet_config c = m->cfg;
	if (c.n_layers * c.n_heads * (c.d_model / c.n_heads) * (c.d_model / c.n_heads) > 4 * 4 * 16 * 16)
		return 1;
	static struct naive_state ns, nt;
	float z[FS_RN_MAX_V], z2[FS_RN_MAX_V];
	const int L = 8;

	printf("model %s: %zu parameters (V=%u D=%u L=%u H=%u F=%u), state %zu bytes\n", what,
	       m->n_params, c.vocab, c.d_model, c.n_layers, c.n_heads, c.d_ffn,
	       fs_rn_state_bytes(m));
	printf("CPU time per call (thread CPU clock), median of %d rounds, %ld iterations in all\n",
	       REPS, iters);
	printf("%-34s %10s %22s\n", "implementation", "ns/step", "ns/(step + 8 lookahead)");
	double best_full = 1e30;
	for (int k = FS_RN_K_COUNT - 1; k >= FS_RN_K_GENERIC; k--) {
		if (!fs_rn_kernel_ok(m, k)) {
			printf("%-34s %10s\n", fs_rn_kernel_name(k), "(not available here)");
			continue;
		}
		fs_rn_packed *pk;
		if (fs_rn_pack(m, k, &pk))
			return 1;
		double st, full;
		time_kernel(m, pk, iters, L, &st, &full);
		char name[64];
		snprintf(name, sizeof(name), "%s%s", fs_rn_kernel_name(k),
			 k == FS_RN_K_GENERIC ? " (fs_rn_step, any shape)" : " (fused)");
		printf("%-34s %10.1f %22.1f\n", name, st, full);
		best_full = full < best_full ? full : best_full;
		fs_rn_packed_free(pk);
	}

	long niters = iters / 4;
	double nstep, nfull;
	TIMED(nstep, niters / REPS, naive_step(m, &ns, 3 + (int)(i % 13), z));
	TIMED(nfull, niters / 4 / REPS, {
		naive_step(m, &ns, 3 + (int)(i % 13), z);
		nt = ns;
		int tok = argmax(z, c.vocab);
		for (int j = 0; j < L; j++) {
			naive_step(m, &nt, tok, z2);
			tok = argmax(z2, c.vocab);
		}
		sink += tok;
	});
	printf("%-34s %10.1f %22.1f\n", "naive scalar", nstep, nfull);
	printf("speed-up of the best kernel over naive: %.1fx\n", nfull / best_full);

	make_cycle();
	printf("\nthe whole farsight policy per event (model_lookahead 8, min_prob 0, leap "
	       "fallback; a known %d-page chase):\n", CYC);
	printf("%-34s %10s %14s\n", "model_kernel", "ns/event", "pages/event");
	for (int k = FS_RN_K_COUNT - 1; k >= FS_RN_K_GENERIC; k--) {
		if (!fs_rn_kernel_ok(m, k))
			continue;
		double pns, pages;
		if (time_policy(model, fs_rn_kernel_name(k), iters / 4, &pns, &pages))
			return 1;
		printf("%-34s %10.1f %14.1f%s\n", fs_rn_kernel_name(k), pns, pages,
		       pns < 1000 ? "  (< 1 us: goal met)" : "  (goal: < 1 us)");
	}
	printf("\nworst case: the predictor with every 8-step chain recomputed (as after a "
	       "wrong prediction; no fallback):\n");
	printf("%-34s %10s %14s\n", "kernel", "ns/event", "steps/event");
	for (int k = FS_RN_K_COUNT - 1; k >= FS_RN_K_GENERIC; k--) {
		if (!fs_rn_kernel_ok(m, k))
			continue;
		double pns, steps;
		if (time_recompute(model, k, iters / 4, &pns, &steps))
			return 1;
		printf("%-34s %10.1f %14.1f\n", fs_rn_kernel_name(k), pns, steps);
	}
	if (tmpmodel[0])
		unlink(tmpmodel);
	if (m != fm.net || !m)
		fs_rn_destroy(m);
	else
		fs_model_free(&fm);
	return sink == 12345678;
}
