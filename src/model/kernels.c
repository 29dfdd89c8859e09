/*
 * kernels.c - packing a RetNet's weights for inference, and the fused step kernels
 * (design and the algebra in kernels.h; the math of the step in retnet.c's top
 * comment).  The fused kernels are checked against the PyTorch reference, step by step
 * (tests/test_retnet_ref.c with tests/data/retnet_ref_default.bin), and against the
 * generic step; bench/model_step times each beside a naive implementation.
 *
 * Intrinsics, not compiler vectorisation: with the sizes as constants GCC unrolled the
 * generic step into scalar code (2.8x slower, docs/MODEL.md), and the kernels need
 * whole-register reductions (group norm, softmax) that -O3 does not vectorise without
 * -ffast-math.  Each ISA's functions carry a target attribute, so the file builds with
 * the project's baseline flags and the kernel is chosen at run time.
 */
#include "model/kernels.h"
#include "model/fastexp.h"
#include "model/tokenizer.h"
#include "common/util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>
#define FS_HAVE_X86 1
#else
#define FS_HAVE_X86 0
#endif

#define KD 16 /* d_model */
#define KF 32 /* d_ffn */
#define KE 8  /* head width */
#define GELU_C 0.7978845608028654f

static const char *const kernel_names[FS_RN_K_COUNT] = { "auto", "generic", "portable",
							  "avx2", "avx512" };

const char *fs_rn_kernel_name(int kernel)
{
	return kernel >= 0 && kernel < FS_RN_K_COUNT ? kernel_names[kernel] : "?";
}

int fs_rn_kernel_parse(const char *name)
{
	for (int k = 0; k < FS_RN_K_COUNT; k++)
		if (!strcmp(name, kernel_names[k]))
			return k;
	return -1;
}

static int fused_shape(const fs_retnet_config *c)
{
	return c->d_model == KD && c->n_layers == 1 && c->n_heads == 2 && c->d_ffn == KF &&
	       c->vocab <= 16;
}

int fs_rn_kernel_ok(const fs_retnet *net, int kernel)
{
	switch (kernel) {
	case FS_RN_K_AUTO:
	case FS_RN_K_GENERIC:
		return 1;
	case FS_RN_K_PORTABLE:
		return fused_shape(&net->cfg);
#if FS_HAVE_X86
	case FS_RN_K_AVX2:
		return fused_shape(&net->cfg) && __builtin_cpu_supports("avx2") &&
		       __builtin_cpu_supports("fma");
	case FS_RN_K_AVX512:
		return fused_shape(&net->cfg) && __builtin_cpu_supports("avx512f") &&
		       __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq");
#endif
	default:
		return 0;
	}
}

/* ---- shared scalar pieces ---- */

/* O3 without trapping math, so the portable kernel's fixed-size loops vectorise with
 * whatever the baseline ISA has (as retnet.c's inference code) */
#pragma GCC push_options
#pragma GCC optimize("O3", "no-trapping-math")

#define sexp fs_fast_expf

/* ---- portable: the fused algorithm in plain C ---- */

static void step_portable(const fs_rn_packed *pk, fs_rn_state *s, int token, float *logits,
			  float *probs)
{
	if ((unsigned)token >= pk->vocab)
		token = FS_TOK_PAD;
	const float *a = pk->qkvg + (size_t)token * 64;
	float q[KD], k[KD], o[KD] = { 0 }, y[KD], x[KD], u[KF], z[KD];
	for (int l = 0; l < KD; l += 2) {
		int i = (l % KE) / 2;
		float c = (float)s->pc[i], sn = (float)s->ps[i];
		q[l] = a[l] * c - a[l + 1] * sn;
		q[l + 1] = a[l] * sn + a[l + 1] * c;
		k[l] = a[16 + l] * c - a[16 + l + 1] * sn;
		k[l + 1] = a[16 + l] * sn + a[16 + l + 1] * c;
	}
	const float *v = a + 32, *g = a + 48;
	float *S = s->S; /* S[i*16 + head*8 + j] */
	for (int i = 0; i < KE; i++)
		for (int l = 0; l < KD; l++) {
			int hb = l & ~(KE - 1); /* the lane's head base */
			float r = pk->gamma[l] * S[i * KD + l] + k[hb + i] * v[l];
			S[i * KD + l] = r;
			o[l] += q[hb + i] * r;
		}
	for (int hb = 0; hb < KD; hb += KE) {
		float mu = 0.0f, var = 0.0f;
		for (int j = 0; j < KE; j++)
			mu += o[hb + j];
		mu /= KE;
		for (int j = 0; j < KE; j++)
			var += (o[hb + j] - mu) * (o[hb + j] - mu);
		float sd = 1.0f / sqrtf(var / KE + pk->eps);
		for (int j = 0; j < KE; j++)
			y[hb + j] = (o[hb + j] - mu) * sd * g[hb + j]; /* g: swish(g) already */
	}
	const float *e = pk->wte + (size_t)token * KD;
	for (int j = 0; j < KD; j++) {
		float acc = e[j];
		for (int c = 0; c < KD; c++)
			acc += y[c] * pk->wo[c * KD + j];
		x[j] = acc;
	}
	float ss = 0.0f;
	for (int j = 0; j < KD; j++)
		ss += x[j] * x[j];
	float r = 1.0f / sqrtf(ss / KD + pk->eps);
	for (int j = 0; j < KF; j++) {
		float acc = 0.0f;
		for (int c = 0; c < KD; c++)
			acc += x[c] * pk->wf1[c * KF + j];
		float uu = acc * r, w = GELU_C * (uu + 0.044715f * uu * uu * uu);
		u[j] = uu - uu / (sexp(2.0f * w) + 1.0f); /* 0.5 u (1 + tanh w) */
	}
	for (int j = 0; j < KD; j++) {
		float acc = 0.0f;
		for (int c = 0; c < KF; c++)
			acc += u[c] * pk->wf2[c * KD + j];
		x[j] += acc;
	}
	ss = 0.0f;
	for (int j = 0; j < KD; j++)
		ss += x[j] * x[j];
	r = 1.0f / sqrtf(ss / KD + pk->eps);
	const int V = (int)pk->vocab;
	float mx = -INFINITY, sum = 0.0f;
	for (int j = 0; j < V; j++) {
		float acc = 0.0f;
		for (int c = 0; c < KD; c++)
			acc += x[c] * pk->wout[c * KD + j];
		z[j] = acc * r;
		mx = z[j] > mx ? z[j] : mx;
	}
	if (logits)
		memcpy(logits, z, (size_t)V * sizeof(float));
	for (int j = 0; j < V; j++)
		sum += probs[j] = sexp(z[j] - mx);
	for (int j = 0; j < V; j++)
		probs[j] /= sum;
	fs_rn_state_advance(s);
}

#pragma GCC pop_options

/* ---- generic: fs_rn_step on the packed copy of the net ---- */

static void step_generic(const fs_rn_packed *pk, fs_rn_state *s, int token, float *logits,
			 float *probs)
{
	float z[FS_RN_MAX_V];
	fs_rn_step(pk->net, s, token, z);
	if (logits)
		memcpy(logits, z, pk->vocab * sizeof(float));
	fs_rn_softmax(z, pk->vocab, probs);
}

#if FS_HAVE_X86
/* advance_rotation with the 4 pairs in one register each (AVX2 and AVX-512) */
static inline __attribute__((target("avx2,fma"), always_inline)) void
advance_rotation_256(fs_rn_state *s)
{
	__m256d pc = _mm256_loadu_pd(s->pc), ps = _mm256_loadu_pd(s->ps);
	__m256d rc = _mm256_loadu_pd(s->rc), rs = _mm256_loadu_pd(s->rs);
	__m256d nc = _mm256_fmsub_pd(pc, rc, _mm256_mul_pd(ps, rs));
	__m256d ns = _mm256_fmadd_pd(pc, rs, _mm256_mul_pd(ps, rc));
	__m256d nn = _mm256_fmadd_pd(nc, nc, _mm256_mul_pd(ns, ns));
	__m256d rn = _mm256_fnmadd_pd(_mm256_set1_pd(0.5), nn, _mm256_set1_pd(1.5));
	_mm256_storeu_pd(s->pc, _mm256_mul_pd(nc, rn));
	_mm256_storeu_pd(s->ps, _mm256_mul_pd(ns, rn));
	s->pos++;
}

/* ---- AVX-512: one zmm per 16-wide activation ---- */
#define T512 __attribute__((target("avx512f,avx512vl,avx512dq,fma"), always_inline)) static inline

/* e^x over a register of W bits (512 or 256): fastexp.h's reduction, the polynomial by
 * Estrin's scheme (depth 3, not Horner's 5: the step is latency-bound); FLOOR and
 * POW2(y, n) = y 2^n are the ISA's */
#define DEF_EXP(ATTR, W, FLOOR, POW2)                                                     \
	ATTR __m##W exp##W(__m##W x)                                                     \
	{                                                                                \
		x = _mm##W##_min_ps(_mm##W##_max_ps(x, _mm##W##_set1_ps(-87.0f)),       \
				    _mm##W##_set1_ps(88.0f));                            \
		__m##W fx = FLOOR(_mm##W##_fmadd_ps(x, _mm##W##_set1_ps(FS_EXP_LOG2E),   \
						    _mm##W##_set1_ps(0.5f)));            \
		__m##W r = _mm##W##_fnmadd_ps(fx, _mm##W##_set1_ps(FS_EXP_LN2_HI), x);  \
		r = _mm##W##_fmadd_ps(fx, _mm##W##_set1_ps(FS_EXP_LN2_LO), r);          \
		__m##W z = _mm##W##_mul_ps(r, r);                                        \
		__m##W pa = _mm##W##_fmadd_ps(_mm##W##_set1_ps(FS_EXP_P1), r,            \
					      _mm##W##_set1_ps(FS_EXP_P0));              \
		__m##W pb = _mm##W##_fmadd_ps(_mm##W##_set1_ps(FS_EXP_P3), r,            \
					      _mm##W##_set1_ps(FS_EXP_P2));              \
		__m##W pc = _mm##W##_fmadd_ps(_mm##W##_set1_ps(FS_EXP_P5), r,            \
					      _mm##W##_set1_ps(FS_EXP_P4));              \
		__m##W y = _mm##W##_fmadd_ps(_mm##W##_fmadd_ps(pc, z, pb), z, pa);      \
		y = _mm##W##_fmadd_ps(y, z, _mm##W##_add_ps(r, _mm##W##_set1_ps(1.0f))); \
		return POW2(y, fx);                                                      \
	}
#define FLOOR512(v) _mm512_roundscale_ps(v, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC)
DEF_EXP(T512, 512, FLOOR512, _mm512_scalef_ps)

/* 1/v: the ISA's reciprocal estimate and one Newton step (~23 bits; a vdivps has
 * several times its latency) */
#define DEF_RCP(ATTR, W, RCP)                                                             \
	ATTR __m##W rcp##W(__m##W v)                                                     \
	{                                                                                \
		__m##W r = RCP(v);                                                       \
		return _mm##W##_mul_ps(r, _mm##W##_fnmadd_ps(v, r, _mm##W##_set1_ps(2.0f))); \
	}
/* every lane: the sum of the 8 lanes of its group (a head: a ymm, or half a zmm);
 * LANES swaps the two 128-bit lanes of each 256-bit group */
#define DEF_SUM8(ATTR, W, LANES)                                                          \
	ATTR __m##W sum8_##W(__m##W t)                                                    \
	{                                                                                \
		t = _mm##W##_add_ps(t, _mm##W##_permute_ps(t, 0xB1));                    \
		t = _mm##W##_add_ps(t, _mm##W##_permute_ps(t, 0x4E));                    \
		return _mm##W##_add_ps(t, LANES(t));                                     \
	}
#define LANES512(t) _mm512_shuffle_f32x4(t, t, 0xB1)
DEF_RCP(T512, 512, _mm512_rcp14_ps)
DEF_SUM8(T512, 512, LANES512)

/* every lane: the sum of all 16 */
T512 __m512 sum16_512(__m512 t)
{
	t = sum8_512(t);
	return _mm512_add_ps(t, _mm512_shuffle_f32x4(t, t, 0x4E));
}

/* 1/sqrt(v), rsqrt14 and one Newton step (~23 bits) */
T512 __m512 rsqrt512(__m512 v)
{
	__m512 r = _mm512_rsqrt14_ps(v);
	__m512 h = _mm512_mul_ps(_mm512_mul_ps(v, r), r);
	return _mm512_mul_ps(_mm512_mul_ps(_mm512_set1_ps(0.5f), r),
			     _mm512_sub_ps(_mm512_set1_ps(3.0f), h));
}

/* out = sum_c x[c] W[c][0..16) for rows 16 or 32: four named partial sums, fully
 * unrolled (an array of accumulators was kept on the stack: a store/reload per FMA) */
#define MV_ROW(A, c) A = _mm512_fmadd_ps(_mm512_set1_ps(x[c]), _mm512_loadu_ps(w + (c) * KD), A)
#define MV_4ROWS(c) MV_ROW(a0, c); MV_ROW(a1, c + 1); MV_ROW(a2, c + 2); MV_ROW(a3, c + 3)
T512 __m512 mv16_512(const float *x, const float *w, int rows)
{
	__m512 a0 = _mm512_mul_ps(_mm512_set1_ps(x[0]), _mm512_loadu_ps(w));
	__m512 a1 = _mm512_mul_ps(_mm512_set1_ps(x[1]), _mm512_loadu_ps(w + KD));
	__m512 a2 = _mm512_mul_ps(_mm512_set1_ps(x[2]), _mm512_loadu_ps(w + 2 * KD));
	__m512 a3 = _mm512_mul_ps(_mm512_set1_ps(x[3]), _mm512_loadu_ps(w + 3 * KD));
	MV_4ROWS(4);
	MV_4ROWS(8);
	MV_4ROWS(12);
	if (rows == 32) {
		MV_4ROWS(16);
		MV_4ROWS(20);
		MV_4ROWS(24);
		MV_4ROWS(28);
	}
	return _mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3));
}
#undef MV_4ROWS
#undef MV_ROW

__attribute__((target("avx512f,avx512vl,avx512dq,fma"))) static void
step_avx512(const fs_rn_packed *pk, fs_rn_state *s, int token, float *logits, float *probs)
{
	if ((unsigned)token >= pk->vocab)
		token = FS_TOK_PAD;
	const float *a = pk->qkvg + (size_t)token * 64;
	/* rotation: lanes (2i, 2i+1) of each head by angle i: C = [c0 c0 c1 c1 ..] twice */
	const __m512i pair = _mm512_set_epi32(3, 3, 2, 2, 1, 1, 0, 0, 3, 3, 2, 2, 1, 1, 0, 0);
	__m512 C = _mm512_permutexvar_ps(pair, _mm512_castps128_ps512(
						       _mm256_cvtpd_ps(_mm256_loadu_pd(s->pc))));
	__m512 Sn = _mm512_permutexvar_ps(pair, _mm512_castps128_ps512(
							_mm256_cvtpd_ps(_mm256_loadu_pd(s->ps))));
	__m512 q = _mm512_loadu_ps(a), k = _mm512_loadu_ps(a + 16);
	/* even lanes x0 c - x1 s, odd lanes x1 c + x0 s */
	q = _mm512_fmaddsub_ps(q, C, _mm512_mul_ps(_mm512_permute_ps(q, 0xB1), Sn));
	k = _mm512_fmaddsub_ps(k, C, _mm512_mul_ps(_mm512_permute_ps(k, 0xB1), Sn));
	const __m512 v = _mm512_loadu_ps(a + 32), g = _mm512_loadu_ps(a + 48);
	const __m512 gam = _mm512_loadu_ps(pk->gamma);
	/* retention: row i of both heads' states is one register;
	 * S_i = gamma S_i + k_i v,  o += q_i S_i  (k_i, q_i: each head's lane i) */
	__m512 o0 = _mm512_setzero_ps(), o1 = o0;
	float *S = s->S;
	for (int i = 0; i < KE; i += 2) {
		const __m512i b0 = _mm512_set_epi32(8 + i, 8 + i, 8 + i, 8 + i, 8 + i, 8 + i, 8 + i,
						    8 + i, i, i, i, i, i, i, i, i);
		const __m512i b1 = _mm512_add_epi32(b0, _mm512_set1_epi32(1));
		__m512 r0 = _mm512_loadu_ps(S + i * KD), r1 = _mm512_loadu_ps(S + (i + 1) * KD);
		r0 = _mm512_fmadd_ps(_mm512_permutexvar_ps(b0, k), v, _mm512_mul_ps(gam, r0));
		r1 = _mm512_fmadd_ps(_mm512_permutexvar_ps(b1, k), v, _mm512_mul_ps(gam, r1));
		_mm512_storeu_ps(S + i * KD, r0);
		_mm512_storeu_ps(S + (i + 1) * KD, r1);
		o0 = _mm512_fmadd_ps(_mm512_permutexvar_ps(b0, q), r0, o0);
		o1 = _mm512_fmadd_ps(_mm512_permutexvar_ps(b1, q), r1, o1);
	}
	__m512 o = _mm512_add_ps(o0, o1);
	/* group norm per head, then the swish gate g / (1 + e^-g) */
	const __m512 inv8 = _mm512_set1_ps(1.0f / KE), one = _mm512_set1_ps(1.0f);
	/* mean and mean square in parallel (one reduction deep, not two) */
	__m512 mu = _mm512_mul_ps(sum8_512(o), inv8);
	__m512 ms = _mm512_mul_ps(sum8_512(_mm512_mul_ps(o, o)), inv8);
	__m512 var = _mm512_max_ps(_mm512_fnmadd_ps(mu, mu, ms), _mm512_setzero_ps());
	__m512 d = _mm512_mul_ps(_mm512_sub_ps(o, mu),
				 rsqrt512(_mm512_add_ps(var, _mm512_set1_ps(pk->eps))));
	float yb[KD] __attribute__((aligned(64)));
	_mm512_store_ps(yb, _mm512_mul_ps(d, g)); /* g: swish(g), from the table */
	/* x = wte[t] + y Wo */
	__m512 x = _mm512_add_ps(_mm512_loadu_ps(pk->wte + (size_t)token * KD), mv16_512(yb, pk->wo, KD));
	float xb[KD] __attribute__((aligned(64)));
	_mm512_store_ps(xb, x);
	/* u = gelu(r * x Wf1'), r = 1/rms(x): the product does not wait for the norm */
	const __m512 inv16 = _mm512_set1_ps(1.0f / KD), eps = _mm512_set1_ps(pk->eps);
	__m512 r = rsqrt512(_mm512_fmadd_ps(sum16_512(_mm512_mul_ps(x, x)), inv16, eps));
	__m512 u0 = _mm512_setzero_ps(), u1 = u0, u2 = u0, u3 = u0;
	for (int c = 0; c < KD; c += 2) {
		__m512 b0 = _mm512_set1_ps(xb[c]), b1 = _mm512_set1_ps(xb[c + 1]);
		u0 = _mm512_fmadd_ps(b0, _mm512_loadu_ps(pk->wf1 + c * KF), u0);
		u1 = _mm512_fmadd_ps(b0, _mm512_loadu_ps(pk->wf1 + c * KF + 16), u1);
		u2 = _mm512_fmadd_ps(b1, _mm512_loadu_ps(pk->wf1 + (c + 1) * KF), u2);
		u3 = _mm512_fmadd_ps(b1, _mm512_loadu_ps(pk->wf1 + (c + 1) * KF + 16), u3);
	}
	u0 = _mm512_mul_ps(_mm512_add_ps(u0, u2), r);
	u1 = _mm512_mul_ps(_mm512_add_ps(u1, u3), r);
	const __m512 gc = _mm512_set1_ps(GELU_C), gk = _mm512_set1_ps(0.044715f),
		     two = _mm512_set1_ps(2.0f);
	float ub[KF] __attribute__((aligned(64)));
	{
		__m512 w0 = _mm512_mul_ps(gc, _mm512_fmadd_ps(_mm512_mul_ps(gk, u0), _mm512_mul_ps(u0, u0), u0));
		__m512 w1 = _mm512_mul_ps(gc, _mm512_fmadd_ps(_mm512_mul_ps(gk, u1), _mm512_mul_ps(u1, u1), u1));
		__m512 t0 = _mm512_add_ps(exp512(_mm512_mul_ps(two, w0)), one);
		__m512 t1 = _mm512_add_ps(exp512(_mm512_mul_ps(two, w1)), one);
		_mm512_store_ps(ub, _mm512_fnmadd_ps(u0, rcp512(t0), u0));
		_mm512_store_ps(ub + 16, _mm512_fnmadd_ps(u1, rcp512(t1), u1));
	}
	x = _mm512_add_ps(x, mv16_512(ub, pk->wf2, KF));
	_mm512_store_ps(xb, x);
	/* logits = r * x Wout' */
	r = rsqrt512(_mm512_fmadd_ps(sum16_512(_mm512_mul_ps(x, x)), inv16, eps));
	__m512 zl = _mm512_mul_ps(mv16_512(xb, pk->wout, KD), r);
	const __mmask16 live = (__mmask16)((1u << pk->vocab) - 1u);
	if (logits)
		_mm512_mask_storeu_ps(logits, live, zl);
	/* softmax: e^z without subtracting the max first (that would put a reduction on
	 * the critical path) unless a logit is large enough to lose range */
	__m512 ex = _mm512_maskz_mov_ps(live, exp512(zl));
	float mxs = _mm512_mask_reduce_max_ps(live, zl);
	if (__builtin_expect(mxs > 60.0f, 0))
		ex = _mm512_maskz_mov_ps(live, exp512(_mm512_sub_ps(zl, _mm512_set1_ps(mxs))));
	__m512 p = _mm512_mul_ps(ex, rcp512(sum16_512(ex)));
	_mm512_mask_storeu_ps(probs, live, p);
	advance_rotation_256(s);
}

/* ---- AVX2: two ymm per 16-wide activation (head 0 low, head 1 high) ---- */
#define T256 __attribute__((target("avx2,fma"), always_inline)) static inline

static inline __attribute__((target("avx2,fma"), always_inline)) __m256
pow2_256(__m256 y, __m256 n)
{
	__m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvttps_epi32(n), _mm256_set1_epi32(127)), 23);
	return _mm256_mul_ps(y, _mm256_castsi256_ps(e));
}
DEF_EXP(T256, 256, _mm256_floor_ps, pow2_256)

#define LANES256(t) _mm256_permute2f128_ps(t, t, 1)
DEF_RCP(T256, 256, _mm256_rcp_ps)
DEF_SUM8(T256, 256, LANES256)

/* 1/sqrt(v) in full precision (rsqrt_ps has 12 bits; one Newton step gives ~22) */
T256 __m256 rsqrt256(__m256 v)
{
	__m256 r = _mm256_rsqrt_ps(v);
	__m256 h = _mm256_mul_ps(_mm256_mul_ps(v, r), r);
	return _mm256_mul_ps(_mm256_mul_ps(_mm256_set1_ps(0.5f), r),
			     _mm256_sub_ps(_mm256_set1_ps(3.0f), h));
}

/* [lo hi] = sum_c x[c] W[c][0..16), two partial sums per half */
T256 void mv16_256(const float *x, const float *w, int rows, __m256 *lo, __m256 *hi)
{
	__m256 a0 = _mm256_setzero_ps(), a1 = a0, b0 = a0, b1 = a0;
	for (int c = 0; c < rows; c += 2) {
		__m256 x0 = _mm256_broadcast_ss(x + c), x1 = _mm256_broadcast_ss(x + c + 1);
		a0 = _mm256_fmadd_ps(x0, _mm256_loadu_ps(w + c * KD), a0);
		b0 = _mm256_fmadd_ps(x0, _mm256_loadu_ps(w + c * KD + 8), b0);
		a1 = _mm256_fmadd_ps(x1, _mm256_loadu_ps(w + (c + 1) * KD), a1);
		b1 = _mm256_fmadd_ps(x1, _mm256_loadu_ps(w + (c + 1) * KD + 8), b1);
	}
	*lo = _mm256_add_ps(a0, a1);
	*hi = _mm256_add_ps(b0, b1);
}

T256 __m256 gelu256(__m256 u)
{
	__m256 w = _mm256_mul_ps(_mm256_set1_ps(GELU_C),
				 _mm256_fmadd_ps(_mm256_mul_ps(_mm256_set1_ps(0.044715f), u),
						 _mm256_mul_ps(u, u), u));
	__m256 t = _mm256_add_ps(exp256(_mm256_add_ps(w, w)), _mm256_set1_ps(1.0f));
	return _mm256_fnmadd_ps(u, rcp256(t), u);
}

__attribute__((target("avx2,fma"))) static void
step_avx2(const fs_rn_packed *pk, fs_rn_state *s, int token, float *logits, float *probs)
{
	if ((unsigned)token >= pk->vocab)
		token = FS_TOK_PAD;
	const float *a = pk->qkvg + (size_t)token * 64;
	const __m256i pair = _mm256_set_epi32(3, 3, 2, 2, 1, 1, 0, 0);
	__m256 C = _mm256_permutevar8x32_ps(
		_mm256_castps128_ps256(_mm256_cvtpd_ps(_mm256_loadu_pd(s->pc))), pair);
	__m256 Sn = _mm256_permutevar8x32_ps(
		_mm256_castps128_ps256(_mm256_cvtpd_ps(_mm256_loadu_pd(s->ps))), pair);
	float qb[KD] __attribute__((aligned(32))), kb[KD] __attribute__((aligned(32)));
	for (int h = 0; h < 2; h++) {
		__m256 q = _mm256_loadu_ps(a + h * KE), k = _mm256_loadu_ps(a + 16 + h * KE);
		q = _mm256_fmaddsub_ps(q, C, _mm256_mul_ps(_mm256_permute_ps(q, 0xB1), Sn));
		k = _mm256_fmaddsub_ps(k, C, _mm256_mul_ps(_mm256_permute_ps(k, 0xB1), Sn));
		_mm256_store_ps(qb + h * KE, q);
		_mm256_store_ps(kb + h * KE, k);
	}
	float yb[KD] __attribute__((aligned(32)));
	const __m256 inv8 = _mm256_set1_ps(1.0f / KE);
	float *S = s->S;
	for (int h = 0; h < 2; h++) {
		const __m256 v = _mm256_loadu_ps(a + 32 + h * KE), gam = _mm256_set1_ps(pk->gamma[h * KE]);
		__m256 o0 = _mm256_setzero_ps(), o1 = o0;
		for (int i = 0; i < KE; i += 2) {
			float *r0p = S + i * KD + h * KE, *r1p = S + (i + 1) * KD + h * KE;
			__m256 r0 = _mm256_fmadd_ps(_mm256_broadcast_ss(kb + h * KE + i), v,
						    _mm256_mul_ps(gam, _mm256_loadu_ps(r0p)));
			__m256 r1 = _mm256_fmadd_ps(_mm256_broadcast_ss(kb + h * KE + i + 1), v,
						    _mm256_mul_ps(gam, _mm256_loadu_ps(r1p)));
			_mm256_storeu_ps(r0p, r0);
			_mm256_storeu_ps(r1p, r1);
			o0 = _mm256_fmadd_ps(_mm256_broadcast_ss(qb + h * KE + i), r0, o0);
			o1 = _mm256_fmadd_ps(_mm256_broadcast_ss(qb + h * KE + i + 1), r1, o1);
		}
		__m256 o = _mm256_add_ps(o0, o1);
		__m256 d = _mm256_sub_ps(o, _mm256_mul_ps(sum8_256(o), inv8));
		__m256 var = _mm256_mul_ps(sum8_256(_mm256_mul_ps(d, d)), inv8);
		d = _mm256_mul_ps(d, rsqrt256(_mm256_add_ps(var, _mm256_set1_ps(pk->eps))));
		/* a + 48: swish(g), from the table */
		_mm256_store_ps(yb + h * KE, _mm256_mul_ps(d, _mm256_loadu_ps(a + 48 + h * KE)));
	}
	__m256 xl, xh;
	mv16_256(yb, pk->wo, KD, &xl, &xh);
	xl = _mm256_add_ps(xl, _mm256_loadu_ps(pk->wte + (size_t)token * KD));
	xh = _mm256_add_ps(xh, _mm256_loadu_ps(pk->wte + (size_t)token * KD + 8));
	float xb[KD] __attribute__((aligned(32)));
	_mm256_store_ps(xb, xl);
	_mm256_store_ps(xb + 8, xh);
	const __m256 inv16 = _mm256_set1_ps(1.0f / KD), eps = _mm256_set1_ps(pk->eps);
	__m256 r = rsqrt256(_mm256_fmadd_ps(
		sum8_256(_mm256_fmadd_ps(xl, xl, _mm256_mul_ps(xh, xh))), inv16, eps));
	__m256 u[4], u2[4];
	for (int j = 0; j < 4; j++)
		u[j] = u2[j] = _mm256_setzero_ps();
	for (int c = 0; c < KD; c += 2) {
		__m256 b0 = _mm256_broadcast_ss(xb + c), b1 = _mm256_broadcast_ss(xb + c + 1);
		for (int j = 0; j < 4; j++) {
			u[j] = _mm256_fmadd_ps(b0, _mm256_loadu_ps(pk->wf1 + c * KF + 8 * j), u[j]);
			u2[j] = _mm256_fmadd_ps(b1, _mm256_loadu_ps(pk->wf1 + (c + 1) * KF + 8 * j), u2[j]);
		}
	}
	float ub[KF] __attribute__((aligned(32)));
	for (int j = 0; j < 4; j++)
		_mm256_store_ps(ub + 8 * j, gelu256(_mm256_mul_ps(_mm256_add_ps(u[j], u2[j]), r)));
	__m256 fl, fh;
	mv16_256(ub, pk->wf2, KF, &fl, &fh);
	xl = _mm256_add_ps(xl, fl);
	xh = _mm256_add_ps(xh, fh);
	_mm256_store_ps(xb, xl);
	_mm256_store_ps(xb + 8, xh);
	r = rsqrt256(_mm256_fmadd_ps(sum8_256(_mm256_fmadd_ps(xl, xl, _mm256_mul_ps(xh, xh))),
				     inv16, eps));
	__m256 zl, zh;
	mv16_256(xb, pk->wout, KD, &zl, &zh);
	zl = _mm256_mul_ps(zl, r);
	zh = _mm256_mul_ps(zh, r);
	/* softmax over the V live lanes (the others are masked to -inf, then to 0) */
	const uint32_t V = pk->vocab;
	const __m256i lane = _mm256_set_epi32(7, 6, 5, 4, 3, 2, 1, 0);
	__m256 ml = _mm256_castsi256_ps(_mm256_cmpgt_epi32(_mm256_set1_epi32((int)V), lane));
	__m256 mh = _mm256_castsi256_ps(_mm256_cmpgt_epi32(_mm256_set1_epi32((int)V - 8), lane));
	const __m256 ninf = _mm256_set1_ps(-INFINITY);
	__m256 m = _mm256_max_ps(_mm256_blendv_ps(ninf, zl, ml), _mm256_blendv_ps(ninf, zh, mh));
	m = _mm256_max_ps(m, _mm256_permute_ps(m, 0xB1));
	m = _mm256_max_ps(m, _mm256_permute_ps(m, 0x4E));
	m = _mm256_max_ps(m, _mm256_permute2f128_ps(m, m, 1));
	__m256 el = _mm256_and_ps(exp256(_mm256_sub_ps(zl, m)), ml);
	__m256 eh = _mm256_and_ps(exp256(_mm256_sub_ps(zh, m)), mh);
	__m256 sum = sum8_256(_mm256_add_ps(el, eh));
	float pb[16] __attribute__((aligned(32))), lb[16] __attribute__((aligned(32)));
	sum = rcp256(sum);
	_mm256_store_ps(pb, _mm256_mul_ps(el, sum));
	_mm256_store_ps(pb + 8, _mm256_mul_ps(eh, sum));
	memcpy(probs, pb, V * sizeof(float));
	if (logits) {
		_mm256_store_ps(lb, zl);
		_mm256_store_ps(lb + 8, zh);
		memcpy(logits, lb, V * sizeof(float));
	}
	advance_rotation_256(s);
}
#endif /* FS_HAVE_X86 */

/* ---- packing ---- */

void fs_rn_packed_free(fs_rn_packed *pk)
{
	if (!pk)
		return;
	fs_rn_destroy(pk->net);
	free(pk->mem);
	free(pk);
}

/* layer 0's [q | k/sqrt(e) | v | swish(g)] for token t, computed in double */
static void token_qkvg(const fs_retnet *net, int t, float *out)
{
	const fs_rn_weights *w = &net->w;
	const float *x = w->wte + (size_t)t * KD;
	double ss = 0.0, h[KD];
	for (int i = 0; i < KD; i++)
		ss += (double)x[i] * x[i];
	double r = 1.0 / sqrt(ss / KD + net->cfg.eps);
	for (int i = 0; i < KD; i++)
		h[i] = x[i] * r * w->layer[0].ln1[i];
	for (int j = 0; j < 4 * KD; j++) {
		double acc = 0.0;
		for (int c = 0; c < KD; c++)
			acc += h[c] * w->layer[0].w1[c * 4 * KD + j];
		if (j >= KD && j < 2 * KD)
			acc /= sqrt((double)KE);
		if (j >= 3 * KD)
			acc = acc / (1.0 + exp(-acc)); /* swish(g) = g sigmoid(g) */
		out[j] = (float)acc;
	}
}

int fs_rn_pack(const fs_retnet *net, int kernel, fs_rn_packed **out)
{
	if (kernel == FS_RN_K_AUTO) {
		kernel = FS_RN_K_GENERIC;
		if (fs_rn_kernel_ok(net, FS_RN_K_AVX512))
			kernel = FS_RN_K_AVX512;
		else if (fs_rn_kernel_ok(net, FS_RN_K_AVX2))
			kernel = FS_RN_K_AVX2;
		else if (fs_rn_kernel_ok(net, FS_RN_K_PORTABLE))
			kernel = FS_RN_K_PORTABLE;
	}
	if (!fs_rn_kernel_ok(net, kernel))
		return FS_EINVAL;
	fs_rn_packed *pk = calloc(1, sizeof(*pk));
	if (!pk)
		return FS_ENOMEM;
	pk->kernel = kernel;
	pk->vocab = net->cfg.vocab;
	if (kernel == FS_RN_K_GENERIC) {
		if (fs_rn_create(&net->cfg, &pk->net)) {
			free(pk);
			return FS_ENOMEM;
		}
		memcpy(pk->net->params, net->params, net->n_params * sizeof(float));
		pk->step = step_generic;
		*out = pk;
		return FS_OK;
	}
	const size_t V = net->cfg.vocab;
	size_t nf = V * 64 + V * KD + KD * KD + KD * KF + KF * KD + KD * KD;
	pk->mem = aligned_alloc(64, (nf * sizeof(float) + 63) & ~(size_t)63);
	if (!pk->mem) {
		free(pk);
		return FS_ENOMEM;
	}
	float *f = pk->mem;
	pk->qkvg = f, f += V * 64;
	pk->wte = f, f += V * KD;
	pk->wo = f, f += KD * KD;
	pk->wf1 = f, f += KD * KF;
	pk->wf2 = f, f += KF * KD;
	pk->wout = f;
	const fs_rn_weights *w = &net->w;
	const fs_rn_layer *L0 = &w->layer[0];
	for (size_t t = 0; t < V; t++)
		token_qkvg(net, (int)t, pk->qkvg + t * 64);
	memcpy(pk->wte, w->wte, V * KD * sizeof(float));
	memcpy(pk->wo, L0->wo, KD * KD * sizeof(float));
	for (int c = 0; c < KD; c++)
		for (int j = 0; j < KF; j++)
			pk->wf1[c * KF + j] = L0->ln2[c] * L0->wf1[c * KF + j];
	memcpy(pk->wf2, L0->wf2, KF * KD * sizeof(float));
	for (int c = 0; c < KD; c++)
		for (int j = 0; j < KD; j++)
			pk->wout[c * KD + j] = (size_t)j < V ? w->lnf[c] * w->wout[c * V + j] : 0.0f;
	for (int l = 0; l < KD; l++)
		pk->gamma[l] = net->cfg.gamma[l / KE];
	pk->eps = net->cfg.eps;
	switch (kernel) {
#if FS_HAVE_X86
	case FS_RN_K_AVX512:
		pk->step = step_avx512;
		break;
	case FS_RN_K_AVX2:
		pk->step = step_avx2;
		break;
#endif
	default:
		pk->step = step_portable;
	}
	*out = pk;
	return FS_OK;
}
