/*
 * model_step.c - micro-benchmark of FarSight inference: ns per recurrent step and per
 * step + 8-step lookahead (a state copy and 8 more steps), for the default model size,
 * next to a deliberately naive scalar implementation of the same step (dot-product
 * loops over W^T, no vectorisation, -O3 notwithstanding), in one run.  Goal: < 1 us for
 * a step plus an 8-step lookahead.  Not a test: it measures and prints.
 *
 *   build/bench/model_step [iterations]
 */
#include "model/retnet.h"
#include "model/tokenizer.h"
#include "common/util.h"

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

int main(int argc, char **argv)
{
	long iters = argc > 1 ? atol(argv[1]) : 200000;
	fs_tok_config tc = { .k = 8, .vocab = FS_VOCAB_HYBRID, .replace = FS_FM_LRU };
	fs_retnet_config c;
	fs_rn_default_config(&c, fs_tok_vocab_size(&tc));
	fs_retnet *m;
	if (fs_rn_create(&c, &m))
		return 1;
	fs_rn_init_weights(m, 42);
	if (c.n_layers * c.n_heads * (c.d_model / c.n_heads) * (c.d_model / c.n_heads) > 4 * 4 * 16 * 16)
		return 1;
	fs_rn_state *s = fs_rn_state_new(m), *tmp = fs_rn_state_new(m);
	static struct naive_state ns, nt;
	float z[FS_RN_MAX_V], z2[FS_RN_MAX_V];
	volatile int sink = 0;
	const int L = 8;
	/* warm up */
	for (int i = 0; i < 1000; i++)
		fs_rn_step(m, s, 3 + i % 10, z);

	uint64_t t0 = cpu_ns();
	for (long i = 0; i < iters; i++)
		fs_rn_step(m, s, 3 + (int)(i % 13), z);
	double step = (double)(cpu_ns() - t0) / iters;

	t0 = cpu_ns();
	for (long i = 0; i < iters / 4; i++) {
		fs_rn_step(m, s, 3 + (int)(i % 13), z);
		fs_rn_state_copy(m, tmp, s);
		int tok = argmax(z, c.vocab);
		for (int j = 0; j < L; j++) {
			fs_rn_step(m, tmp, tok, z2);
			tok = argmax(z2, c.vocab);
		}
		sink += tok;
	}
	double full = (double)(cpu_ns() - t0) / (iters / 4);

	long niters = iters / 4;
	t0 = cpu_ns();
	for (long i = 0; i < niters; i++)
		naive_step(m, &ns, 3 + (int)(i % 13), z);
	double nstep = (double)(cpu_ns() - t0) / niters;
	t0 = cpu_ns();
	for (long i = 0; i < niters / 4; i++) {
		naive_step(m, &ns, 3 + (int)(i % 13), z);
		nt = ns;
		int tok = argmax(z, c.vocab);
		for (int j = 0; j < L; j++) {
			naive_step(m, &nt, tok, z2);
			tok = argmax(z2, c.vocab);
		}
		sink += tok;
	}
	double nfull = (double)(cpu_ns() - t0) / (niters / 4);

	printf("model: %zu parameters (V=%u D=%u L=%u H=%u F=%u), state %zu bytes\n", m->n_params,
	       c.vocab, c.d_model, c.n_layers, c.n_heads, c.d_ffn, fs_rn_state_bytes(m));
	printf("CPU time per call (thread CPU clock), %ld iterations\n", iters);
	printf("%-28s %10s %22s\n", "implementation", "ns/step", "ns/(step + 8 lookahead)");
	printf("%-28s %10.1f %22.1f\n", "fs_rn_step (vectorised)", step, full);
	printf("%-28s %10.1f %22.1f\n", "naive scalar", nstep, nfull);
	printf("speed-up %.1fx; goal < 1000 ns for step + 8-step lookahead: %s\n", nfull / full,
	       full < 1000 ? "met" : "NOT met");

	/* What the farsight policy spends per event with `lookahead` = L: one step, a
	 * softmax, and L-1 rolled steps (each with its softmax) for the chain past the
	 * first predicted page (src/prefetch/farsight.c). */
	printf("\npolicy cost model (step + softmax + L-1 rolled steps), ns per event:\n");
	static const int Ls[] = { 1, 2, 3, 4, 8 };
	float pr[FS_RN_MAX_V];
	for (size_t li = 0; li < sizeof(Ls) / sizeof(Ls[0]); li++) {
		int PL = Ls[li];
		t0 = cpu_ns();
		for (long i = 0; i < iters / 4; i++) {
			fs_rn_step(m, s, 3 + (int)(i % 13), z);
			fs_rn_softmax(z, c.vocab, pr);
			int tok = argmax(pr, c.vocab);
			if (PL > 1)
				fs_rn_state_copy(m, tmp, s);
			for (int j = 1; j < PL; j++) {
				fs_rn_step(m, tmp, tok, z2);
				fs_rn_softmax(z2, c.vocab, pr);
				tok = argmax(pr, c.vocab);
			}
			sink += tok;
		}
		double t = (double)(cpu_ns() - t0) / (iters / 4);
		printf("  lookahead %d: %7.1f%s\n", PL, t, t < 1000 ? "  (< 1 us)" : "");
	}
	free(s);
	free(tmp);
	fs_rn_destroy(m);
	return sink == 12345678;
}
