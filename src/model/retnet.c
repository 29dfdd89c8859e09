/*
 * retnet.c - the FarSight RetNet: parameters, parallel forward/backward, AdamW and the
 * recurrent single-step form.
 *
 * The model (all shapes per position; x W means a row vector times a matrix stored
 * row-major as in x out):
 *
 *   x_0 = wte[token]                                             (D)
 *   per layer:
 *     h   = RMSNorm(x) * ln1            RMSNorm(x) = x / sqrt(mean(x^2) + eps)
 *     [q k v g] = h W1                  (4 x D)
 *     per head (width e = D/H, pairs (2i, 2i+1), theta_i = base^(-2i/e)):
 *       q~_n = R(n theta) q_n,  k~_n = R(n theta) k_n / sqrt(e)        (rotary)
 *       o_n  = sum_{m<=n} gamma^(n-m) (q~_n . k~_m) v_m                 (retention)
 *       o^_n = (o_n - mean(o_n)) / sqrt(var(o_n) + eps)                (group norm)
 *     y   = swish(g) * o^               swish(g) = g * sigmoid(g)
 *     x   = x + y Wo
 *     x   = x + gelu(RMSNorm(x) * ln2  Wf1) Wf2         (gelu: tanh approximation)
 *   logits = RMSNorm(x) * lnf  Wout                                    (V)
 *   loss   = mean over non-pad targets of -log softmax(logits)[target]
 *
 * Rotary vs xPos: we keep the rotation of xPos and drop its extra exponential scale,
 * since the per-head decay gamma already limits how far back a head looks.  Because
 * q~_n . k~_m depends on n - m only, the recurrent form may start at any position.
 *
 * Recurrent form (per head, state S of e x e):
 *   S_n = gamma S_{n-1} + k~_n^T v_n,    o_n = q~_n S_n
 * which is the parallel sum unrolled.  The rotation angle n*theta is carried as a unit
 * complex number per pair, multiplied by e^(i theta) each step (in double, with the
 * magnitude renormalised), so the position never becomes a large float.
 *
 * Parameter layout (one buffer, in this order):
 *   wte V*D | per layer: ln1 D, W1 D*4D, Wo D*D, ln2 D, Wf1 D*F, Wf2 F*D | lnf D | Wout D*V
 */
#include "model/retnet.h"
#include "model/fastexp.h"
#include "farsight.h"
#include "model/tokenizer.h"
#include "common/util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void fs_rn_default_config(fs_retnet_config *c, uint32_t vocab)
{
	memset(c, 0, sizeof(*c));
	c->vocab = vocab;
	c->d_model = 16;
	c->n_layers = 1;
	c->n_heads = 2;
	c->d_ffn = 32;
	c->seq_len = 64;
	c->gamma[0] = 0.75f;
	c->gamma[1] = 0.9375f;
	c->rope_base = 10000.0f;
	c->eps = 1e-5f;
}

int fs_rn_config_check(const fs_retnet_config *c, char *err, size_t errlen)
{
#define BAD(...)                                     \
	do {                                         \
		fs_errf(err, errlen, __VA_ARGS__);   \
		return FS_EINVAL;                    \
	} while (0)
	if (c->vocab < 4 || c->vocab > FS_RN_MAX_V)
		BAD("vocabulary size %u is out of range 4..%d", c->vocab, FS_RN_MAX_V);
	if (c->d_model < 2 || c->d_model > FS_RN_MAX_D)
		BAD("d_model %u is out of range 2..%d", c->d_model, FS_RN_MAX_D);
	if (c->n_layers < 1 || c->n_layers > FS_RN_MAX_LAYERS)
		BAD("n_layers %u is out of range 1..%d", c->n_layers, FS_RN_MAX_LAYERS);
	if (c->n_heads < 1 || c->n_heads > FS_RN_MAX_HEADS || c->d_model % c->n_heads ||
	    (c->d_model / c->n_heads) % 2)
		BAD("n_heads %u must divide d_model %u into even head widths (at most %d heads)",
		    c->n_heads, c->d_model, FS_RN_MAX_HEADS);
	if (c->d_model / c->n_heads > 64)
		BAD("head width d_model/n_heads = %u is above 64; use more heads",
		    c->d_model / c->n_heads);
	if (c->d_ffn < 1 || c->d_ffn > FS_RN_MAX_F)
		BAD("d_ffn %u is out of range 1..%d", c->d_ffn, FS_RN_MAX_F);
	if (c->seq_len < 2 || c->seq_len > FS_RN_MAX_T)
		BAD("seq_len %u is out of range 2..%d", c->seq_len, FS_RN_MAX_T);
	for (uint32_t h = 0; h < c->n_heads; h++)
		if (!(c->gamma[h] > 0.0f && c->gamma[h] < 1.0f))
			BAD("decay gamma of head %u is %g; it must be in (0, 1)", h, c->gamma[h]);
	if (!(c->rope_base > 1.0f) || !(c->eps > 0.0f) || !(c->eps < 1.0f))
		BAD("rope_base %g or eps %g is out of range", c->rope_base, c->eps);
#undef BAD
	return FS_OK;
}

size_t fs_rn_num_params(const fs_retnet_config *c)
{
	size_t V = c->vocab, D = c->d_model, F = c->d_ffn;
	return V * D + c->n_layers * (2 * D + 4 * D * D + D * D + 2 * D * F) + D + D * V;
}

static void point_weights(const fs_retnet_config *c, float *p, fs_rn_weights *w)
{
	size_t V = c->vocab, D = c->d_model, F = c->d_ffn;
	w->wte = p;
	p += V * D;
	for (uint32_t l = 0; l < c->n_layers; l++) {
		fs_rn_layer *L = &w->layer[l];
		L->ln1 = p; p += D;
		L->w1 = p; p += 4 * D * D;
		L->wo = p; p += D * D;
		L->ln2 = p; p += D;
		L->wf1 = p; p += D * F;
		L->wf2 = p; p += F * D;
	}
	w->lnf = p;
	p += D;
	w->wout = p;
}

int fs_rn_create(const fs_retnet_config *c, fs_retnet **out)
{
	if (fs_rn_config_check(c, NULL, 0))
		return FS_EINVAL;
	fs_retnet *m = calloc(1, sizeof(*m));
	if (!m)
		return FS_ENOMEM;
	m->cfg = *c;
	m->n_params = fs_rn_num_params(c);
	/* 64-byte aligned so that every row starts vector-aligned in the common sizes. */
	m->params = aligned_alloc(64, (m->n_params * sizeof(float) + 63) & ~(size_t)63);
	if (!m->params) {
		free(m);
		return FS_ENOMEM;
	}
	memset(m->params, 0, m->n_params * sizeof(float));
	point_weights(c, m->params, &m->w);
	*out = m;
	return FS_OK;
}

/* ---- deterministic random numbers (xorshift64*, Box-Muller) ---- */
static uint64_t rng_next(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545f4914f6cdd1dull;
}
static double rng_uniform(uint64_t *s) { return ((rng_next(s) >> 11) + 0.5) / 9007199254740992.0; }
static float rng_normal(uint64_t *s)
{
	double u1 = rng_uniform(s), u2 = rng_uniform(s);
	return (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}
static void fill_normal(float *p, size_t n, float std, uint64_t *s)
{
	for (size_t i = 0; i < n; i++)
		p[i] = std * rng_normal(s);
}
static void fill_const(float *p, size_t n, float v)
{
	for (size_t i = 0; i < n; i++)
		p[i] = v;
}

void fs_rn_init_weights(fs_retnet *m, uint64_t seed)
{
	const fs_retnet_config *c = &m->cfg;
	size_t V = c->vocab, D = c->d_model, F = c->d_ffn;
	uint64_t s = seed * 0x9e3779b97f4a7c15ull + 0x1234567;
	if (!s)
		s = 1;
	/* Scaled so every projection roughly preserves variance (1/sqrt(fan_in)); the two
	 * projections that write into the residual are scaled down by sqrt(2L), as GPT-2. */
	float resid = 1.0f / sqrtf(2.0f * c->n_layers);
	fill_normal(m->w.wte, V * D, 1.0f, &s);
	for (uint32_t l = 0; l < c->n_layers; l++) {
		fs_rn_layer *L = &m->w.layer[l];
		fill_const(L->ln1, D, 1.0f);
		fill_normal(L->w1, 4 * D * D, 1.0f / sqrtf((float)D), &s);
		fill_normal(L->wo, D * D, resid / sqrtf((float)D), &s);
		fill_const(L->ln2, D, 1.0f);
		fill_normal(L->wf1, D * F, 1.0f / sqrtf((float)D), &s);
		fill_normal(L->wf2, F * D, resid / sqrtf((float)F), &s);
	}
	fill_const(m->w.lnf, D, 1.0f);
	fill_normal(m->w.wout, D * V, 1.0f / sqrtf((float)D), &s);
}

/* ======================================================================== */
/* Parallel form: layer forward/backward pairs over N = B*T positions.       */
/* ======================================================================== */

struct fs_rn_layer_acts {
	float *xin;   /* N x D   residual stream entering the layer */
	float *r1;    /* N       1/rms of xin */
	float *h1;    /* N x D */
	float *a;     /* N x 4D  [q k v g] */
	float *qr;    /* N x D   rotated q */
	float *kr;    /* N x D   rotated, scaled k */
	float *o;     /* N x D   retention output */
	float *sinv;  /* N x H   1/sigma of the group norm */
	float *on;    /* N x D   group-normed */
	float *y;     /* N x D   gated */
	float *xmid;  /* N x D   after the retention residual */
	float *r2;    /* N */
	float *h2;    /* N x D */
	float *u;     /* N x F   FFN pre-activation */
	float *act;   /* N x F   gelu(u) */
};

struct fs_rn_acts {
	uint32_t B, T; /* capacity */
	uint32_t b, t; /* of the last forward */
	struct fs_rn_layer_acts l[FS_RN_MAX_LAYERS];
	float *xout;   /* N x D residual after the last layer */
	float *rf;     /* N */
	float *hf;     /* N x D */
	float *logits; /* N x V */
	float *probs;  /* N x V */
	int *inputs, *targets;
	float n_valid;
	float *cosb, *sinb; /* T x e/2 rotary tables */
	/* backward scratch */
	float *dx, *dh, *da, *dq, *dk, *do_, *don, *dy, *du, *dact, *dtmp, *dlogits;
	float *mem;
};

/* encoder: x[n] = wte[tok[n]];  dwte[tok[n]] += dx[n] */
static void encoder_forward(float *x, const int *tok, const float *wte, size_t N, size_t D)
{
	for (size_t n = 0; n < N; n++)
		memcpy(x + n * D, wte + (size_t)tok[n] * D, D * sizeof(float));
}
static void encoder_backward(float *dwte, const float *dx, const int *tok, size_t N, size_t D)
{
	for (size_t n = 0; n < N; n++)
		for (size_t i = 0; i < D; i++)
			dwte[(size_t)tok[n] * D + i] += dx[n * D + i];
}

/* RMSNorm: y = g * x * r,  r = (mean(x^2) + eps)^(-1/2)
 * backward: dg += dy * x * r
 *           dx  = r * (dy*g) - x * r^3 / D * sum_i(dy_i g_i x_i)                 */
static void rmsnorm_forward(float *y, float *r, const float *x, const float *g, size_t N,
			    size_t D, float eps)
{
	for (size_t n = 0; n < N; n++) {
		const float *xn = x + n * D;
		float ss = 0.0f;
		for (size_t i = 0; i < D; i++)
			ss += xn[i] * xn[i];
		float rn = 1.0f / sqrtf(ss / (float)D + eps);
		r[n] = rn;
		for (size_t i = 0; i < D; i++)
			y[n * D + i] = xn[i] * rn * g[i];
	}
}
static void rmsnorm_backward(float *dx, float *dg, const float *dy, const float *x,
			     const float *r, const float *g, size_t N, size_t D)
{
	for (size_t n = 0; n < N; n++) {
		const float *xn = x + n * D, *dyn = dy + n * D;
		float rn = r[n], dot = 0.0f;
		for (size_t i = 0; i < D; i++) {
			dot += dyn[i] * g[i] * xn[i];
			dg[i] += dyn[i] * xn[i] * rn;
		}
		float c = rn * rn * rn * dot / (float)D;
		for (size_t i = 0; i < D; i++)
			dx[n * D + i] += rn * dyn[i] * g[i] - xn[i] * c;
	}
}

/* matmul: out[n] = inp[n] W  (W: C x OC);  dinp[n] += dout[n] W^T;  dW += inp^T dout */
static void matmul_forward(float *out, const float *inp, const float *w, size_t N, size_t C,
			   size_t OC)
{
	for (size_t n = 0; n < N; n++) {
		float *o = out + n * OC;
		memset(o, 0, OC * sizeof(float));
		for (size_t c = 0; c < C; c++) {
			float xv = inp[n * C + c];
			const float *wr = w + c * OC;
			for (size_t j = 0; j < OC; j++)
				o[j] += xv * wr[j];
		}
	}
}
static void matmul_backward(float *dinp, float *dw, const float *dout, const float *inp,
			    const float *w, size_t N, size_t C, size_t OC)
{
	for (size_t n = 0; n < N; n++) {
		const float *d = dout + n * OC;
		for (size_t c = 0; c < C; c++) {
			const float *wr = w + c * OC;
			float *dwr = dw + c * OC;
			float xv = inp[n * C + c], s = 0.0f;
			for (size_t j = 0; j < OC; j++) {
				s += d[j] * wr[j];
				dwr[j] += xv * d[j];
			}
			dinp[n * C + c] += s;
		}
	}
}

/* rotary: for each head and pair i at position t,
 *   (y0, y1) = (x0 cos - x1 sin, x0 sin + x1 cos) * scale,   angle = t * theta_i
 * backward is the rotation by -angle (transpose): dx0 = dy0 cos + dy1 sin,
 * dx1 = -dy0 sin + dy1 cos (times scale).                                        */
static void rope_forward(float *y, const float *x, size_t xstride, const float *cosb,
			 const float *sinb, size_t B, size_t T, size_t D, size_t e, float scale)
{
	size_t half = e / 2;
	for (size_t b = 0; b < B; b++)
		for (size_t t = 0; t < T; t++) {
			const float *xn = x + (b * T + t) * xstride;
			float *yn = y + (b * T + t) * D;
			for (size_t h = 0; h < D / e; h++)
				for (size_t i = 0; i < half; i++) {
					float c = cosb[t * half + i], s = sinb[t * half + i];
					float x0 = xn[h * e + 2 * i], x1 = xn[h * e + 2 * i + 1];
					yn[h * e + 2 * i] = (x0 * c - x1 * s) * scale;
					yn[h * e + 2 * i + 1] = (x0 * s + x1 * c) * scale;
				}
		}
}
static void rope_backward(float *dx, size_t xstride, const float *dy, const float *cosb,
			  const float *sinb, size_t B, size_t T, size_t D, size_t e, float scale)
{
	size_t half = e / 2;
	for (size_t b = 0; b < B; b++)
		for (size_t t = 0; t < T; t++) {
			float *dxn = dx + (b * T + t) * xstride;
			const float *dyn = dy + (b * T + t) * D;
			for (size_t h = 0; h < D / e; h++)
				for (size_t i = 0; i < half; i++) {
					float c = cosb[t * half + i], s = sinb[t * half + i];
					float d0 = dyn[h * e + 2 * i], d1 = dyn[h * e + 2 * i + 1];
					dxn[h * e + 2 * i] += (d0 * c + d1 * s) * scale;
					dxn[h * e + 2 * i + 1] += (-d0 * s + d1 * c) * scale;
				}
		}
}

/* retention, per sequence and head:
 *   A[n][m] = gamma^(n-m) (q_n . k_m)  for m <= n,   o_n = sum_m A[n][m] v_m
 * backward: dA[n][m] = do_n . v_m;  dv_m += sum_{n>=m} A[n][m] do_n;
 *           dq_n += sum_m gamma^(n-m) dA[n][m] k_m;  dk_m += sum_n gamma^(n-m) dA[n][m] q_n
 * v is read with stride vs (it lives inside the [q k v g] block).                 */
static void retention_forward(float *o, const float *q, const float *k, const float *v,
			      size_t vs, const float *gamma, size_t B, size_t T, size_t D,
			      size_t H)
{
	size_t e = D / H;
	for (size_t b = 0; b < B; b++)
		for (size_t h = 0; h < H; h++) {
			float gpow[FS_RN_MAX_T];
			gpow[0] = 1.0f;
			for (size_t i = 1; i < T; i++)
				gpow[i] = gpow[i - 1] * gamma[h];
			for (size_t n = 0; n < T; n++) {
				const float *qn = q + (b * T + n) * D + h * e;
				float *on = o + (b * T + n) * D + h * e;
				memset(on, 0, e * sizeof(float));
				for (size_t m = 0; m <= n; m++) {
					const float *km = k + (b * T + m) * D + h * e;
					const float *vm = v + (b * T + m) * vs + h * e;
					float dot = 0.0f;
					for (size_t i = 0; i < e; i++)
						dot += qn[i] * km[i];
					float a = gpow[n - m] * dot;
					for (size_t i = 0; i < e; i++)
						on[i] += a * vm[i];
				}
			}
		}
}
static void retention_backward(float *dq, float *dk, float *dv, size_t vs, const float *dout,
			       const float *q, const float *k, const float *v,
			       const float *gamma, size_t B, size_t T, size_t D, size_t H)
{
	size_t e = D / H;
	for (size_t b = 0; b < B; b++)
		for (size_t h = 0; h < H; h++) {
			float gpow[FS_RN_MAX_T];
			gpow[0] = 1.0f;
			for (size_t i = 1; i < T; i++)
				gpow[i] = gpow[i - 1] * gamma[h];
			for (size_t n = 0; n < T; n++) {
				const float *qn = q + (b * T + n) * D + h * e;
				const float *don = dout + (b * T + n) * D + h * e;
				float *dqn = dq + (b * T + n) * D + h * e;
				for (size_t m = 0; m <= n; m++) {
					const float *km = k + (b * T + m) * D + h * e;
					const float *vm = v + (b * T + m) * vs + h * e;
					float *dkm = dk + (b * T + m) * D + h * e;
					float *dvm = dv + (b * T + m) * vs + h * e;
					float dot = 0.0f, da = 0.0f;
					for (size_t i = 0; i < e; i++) {
						dot += qn[i] * km[i];
						da += don[i] * vm[i];
					}
					float a = gpow[n - m] * dot, dw = gpow[n - m] * da;
					for (size_t i = 0; i < e; i++) {
						dvm[i] += a * don[i];
						dqn[i] += dw * km[i];
						dkm[i] += dw * qn[i];
					}
				}
			}
		}
}

/* group norm over each head's e values (no affine):
 *   y = (x - mu) * s,  s = (var + eps)^(-1/2)
 *   dx = s * (dy - mean(dy) - y * mean(dy * y))                                    */
static void groupnorm_forward(float *y, float *sinv, const float *x, size_t N, size_t D,
			      size_t H, float eps)
{
	size_t e = D / H;
	for (size_t n = 0; n < N; n++)
		for (size_t h = 0; h < H; h++) {
			const float *xh = x + n * D + h * e;
			float *yh = y + n * D + h * e;
			float mu = 0.0f, var = 0.0f;
			for (size_t i = 0; i < e; i++)
				mu += xh[i];
			mu /= (float)e;
			for (size_t i = 0; i < e; i++)
				var += (xh[i] - mu) * (xh[i] - mu);
			var /= (float)e;
			float s = 1.0f / sqrtf(var + eps);
			sinv[n * H + h] = s;
			for (size_t i = 0; i < e; i++)
				yh[i] = (xh[i] - mu) * s;
		}
}
static void groupnorm_backward(float *dx, const float *dy, const float *y, const float *sinv,
			       size_t N, size_t D, size_t H)
{
	size_t e = D / H;
	for (size_t n = 0; n < N; n++)
		for (size_t h = 0; h < H; h++) {
			const float *dyh = dy + n * D + h * e, *yh = y + n * D + h * e;
			float m1 = 0.0f, m2 = 0.0f;
			for (size_t i = 0; i < e; i++) {
				m1 += dyh[i];
				m2 += dyh[i] * yh[i];
			}
			m1 /= (float)e;
			m2 /= (float)e;
			float s = sinv[n * H + h];
			for (size_t i = 0; i < e; i++)
				dx[n * D + h * e + i] += s * (dyh[i] - m1 - yh[i] * m2);
		}
}

/* swish gate: y = swish(g) * x,  swish(g) = g sigmoid(g),
 *   swish'(g) = sigmoid(g) (1 + g (1 - sigmoid(g)))
 * dx += dy * swish(g);  dg += dy * x * swish'(g)                                  */
static inline float sigmoidf(float z) { return 1.0f / (1.0f + expf(-z)); }
static void gate_forward(float *y, const float *g, size_t gs, const float *x, size_t N, size_t D)
{
	for (size_t n = 0; n < N; n++)
		for (size_t i = 0; i < D; i++) {
			float gv = g[n * gs + i];
			y[n * D + i] = gv * sigmoidf(gv) * x[n * D + i];
		}
}
static void gate_backward(float *dx, float *dg, size_t gs, const float *dy, const float *g,
			  const float *x, size_t N, size_t D)
{
	for (size_t n = 0; n < N; n++)
		for (size_t i = 0; i < D; i++) {
			float gv = g[n * gs + i], sg = sigmoidf(gv), d = dy[n * D + i];
			dx[n * D + i] += d * gv * sg;
			dg[n * gs + i] += d * x[n * D + i] * sg * (1.0f + gv * (1.0f - sg));
		}
}

/* gelu (tanh approximation): y = 0.5 u (1 + tanh(c (u + 0.044715 u^3))), c = sqrt(2/pi)
 *   dy/du = 0.5 (1 + t) + 0.5 u (1 - t^2) c (1 + 3 * 0.044715 u^2)                  */
#define GELU_C 0.7978845608028654f
static void gelu_forward(float *y, const float *u, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		float x = u[i];
		y[i] = 0.5f * x * (1.0f + tanhf(GELU_C * (x + 0.044715f * x * x * x)));
	}
}
static void gelu_backward(float *du, const float *dy, const float *u, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		float x = u[i];
		float t = tanhf(GELU_C * (x + 0.044715f * x * x * x));
		float d = 0.5f * (1.0f + t) +
			  0.5f * x * (1.0f - t * t) * GELU_C * (1.0f + 3.0f * 0.044715f * x * x);
		du[i] += dy[i] * d;
	}
}

/* softmax cross-entropy: p = softmax(z); loss_n = -log p[target];
 * dz = (p - onehot(target)) / n_valid for counted targets, 0 for pad.             */
static float crossentropy_forward(float *probs, const float *logits, const int *targets,
				  size_t N, size_t V, float *n_valid)
{
	double loss = 0.0;
	size_t cnt = 0;
	for (size_t n = 0; n < N; n++) {
		const float *z = logits + n * V;
		float *p = probs + n * V;
		float mx = z[0];
		for (size_t i = 1; i < V; i++)
			mx = z[i] > mx ? z[i] : mx;
		float sum = 0.0f;
		for (size_t i = 0; i < V; i++) {
			p[i] = expf(z[i] - mx);
			sum += p[i];
		}
		for (size_t i = 0; i < V; i++)
			p[i] /= sum;
		if (targets && targets[n] != FS_TOK_PAD) {
			loss -= log(p[targets[n]] > 1e-30f ? p[targets[n]] : 1e-30f);
			cnt++;
		}
	}
	*n_valid = (float)cnt;
	return cnt ? (float)(loss / (double)cnt) : 0.0f;
}

/* ---- activations ---- */
static void acts_free(fs_rn_acts *a)
{
	if (a) {
		free(a->mem);
		free(a);
	}
}

static fs_rn_acts *acts_alloc(const fs_retnet_config *c, uint32_t B, uint32_t T)
{
	size_t N = (size_t)B * T, D = c->d_model, F = c->d_ffn, V = c->vocab, H = c->n_heads;
	size_t e = D / H, L = c->n_layers;
	size_t per_layer = N * (D + 1 + D + 4 * D + D + D + D + H + D + D + D + 1 + D + F + F);
	size_t total = L * per_layer + N * (D + 1 + D + V + V) + 2 * T * (e / 2) +
		       N * (D + D + 4 * D + D + D + D + D + D + F + F + D + V) + 2 * N;
	fs_rn_acts *a = calloc(1, sizeof(*a));
	if (!a)
		return NULL;
	a->mem = calloc(total, sizeof(float));
	if (!a->mem) {
		free(a);
		return NULL;
	}
	float *p = a->mem;
#define TAKE(ptr, n) (ptr = p, p += (n))
	for (size_t l = 0; l < L; l++) {
		struct fs_rn_layer_acts *la = &a->l[l];
		TAKE(la->xin, N * D); TAKE(la->r1, N); TAKE(la->h1, N * D);
		TAKE(la->a, N * 4 * D); TAKE(la->qr, N * D); TAKE(la->kr, N * D);
		TAKE(la->o, N * D); TAKE(la->sinv, N * H); TAKE(la->on, N * D);
		TAKE(la->y, N * D); TAKE(la->xmid, N * D); TAKE(la->r2, N);
		TAKE(la->h2, N * D); TAKE(la->u, N * F); TAKE(la->act, N * F);
	}
	TAKE(a->xout, N * D); TAKE(a->rf, N); TAKE(a->hf, N * D);
	TAKE(a->logits, N * V); TAKE(a->probs, N * V);
	TAKE(a->cosb, T * (e / 2)); TAKE(a->sinb, T * (e / 2));
	TAKE(a->dx, N * D); TAKE(a->dh, N * D); TAKE(a->da, N * 4 * D); TAKE(a->dq, N * D);
	TAKE(a->dk, N * D); TAKE(a->do_, N * D); TAKE(a->don, N * D); TAKE(a->dy, N * D);
	TAKE(a->du, N * F); TAKE(a->dact, N * F); TAKE(a->dtmp, N * D);
	TAKE(a->dlogits, N * V);
	a->inputs = (int *)p; p += N;
	a->targets = (int *)p; p += N;
#undef TAKE
	a->B = B;
	a->T = T;
	for (size_t t = 0; t < T; t++)
		for (size_t i = 0; i < e / 2; i++) {
			double theta = pow((double)c->rope_base, -2.0 * (double)i / (double)e);
			a->cosb[t * (e / 2) + i] = (float)cos((double)t * theta);
			a->sinb[t * (e / 2) + i] = (float)sin((double)t * theta);
		}
	return a;
}

int fs_rn_train_init(fs_retnet *m, uint32_t B, uint32_t T)
{
	if (B < 1 || T < 1 || T > FS_RN_MAX_T)
		return FS_EINVAL;
	acts_free(m->acts);
	m->acts = acts_alloc(&m->cfg, B, T);
	if (!m->acts)
		return FS_ENOMEM;
	if (!m->grads) {
		m->grads = calloc(m->n_params, sizeof(float));
		m->m = calloc(m->n_params, sizeof(float));
		m->v = calloc(m->n_params, sizeof(float));
		if (!m->grads || !m->m || !m->v)
			return FS_ENOMEM;
		point_weights(&m->cfg, m->grads, &m->g);
	}
	return FS_OK;
}

void fs_rn_destroy(fs_retnet *m)
{
	if (!m)
		return;
	acts_free(m->acts);
	free(m->params);
	free(m->grads);
	free(m->m);
	free(m->v);
	free(m);
}

float fs_rn_forward(fs_retnet *m, const int *inputs, const int *targets, uint32_t B, uint32_t T)
{
	fs_rn_acts *a = m->acts;
	const fs_retnet_config *c = &m->cfg;
	size_t N = (size_t)B * T, D = c->d_model, F = c->d_ffn, V = c->vocab, H = c->n_heads;
	size_t e = D / H;
	a->b = B;
	a->t = T;
	memcpy(a->inputs, inputs, N * sizeof(int));
	if (targets)
		memcpy(a->targets, targets, N * sizeof(int));
	else
		memset(a->targets, 0, N * sizeof(int));
	float *x = a->l[0].xin;
	encoder_forward(x, inputs, m->w.wte, N, D);
	for (uint32_t l = 0; l < c->n_layers; l++) {
		struct fs_rn_layer_acts *la = &a->l[l];
		const fs_rn_layer *W = &m->w.layer[l];
		rmsnorm_forward(la->h1, la->r1, la->xin, W->ln1, N, D, c->eps);
		matmul_forward(la->a, la->h1, W->w1, N, D, 4 * D);
		rope_forward(la->qr, la->a, 4 * D, a->cosb, a->sinb, B, T, D, e, 1.0f);
		rope_forward(la->kr, la->a + D, 4 * D, a->cosb, a->sinb, B, T, D, e,
			     1.0f / sqrtf((float)e));
		retention_forward(la->o, la->qr, la->kr, la->a + 2 * D, 4 * D, c->gamma, B, T, D, H);
		groupnorm_forward(la->on, la->sinv, la->o, N, D, H, c->eps);
		gate_forward(la->y, la->a + 3 * D, 4 * D, la->on, N, D);
		matmul_forward(a->dtmp, la->y, W->wo, N, D, D);
		for (size_t i = 0; i < N * D; i++)
			la->xmid[i] = la->xin[i] + a->dtmp[i];
		rmsnorm_forward(la->h2, la->r2, la->xmid, W->ln2, N, D, c->eps);
		matmul_forward(la->u, la->h2, W->wf1, N, D, F);
		gelu_forward(la->act, la->u, N * F);
		matmul_forward(a->dtmp, la->act, W->wf2, N, F, D);
		x = l + 1 < c->n_layers ? a->l[l + 1].xin : a->xout;
		for (size_t i = 0; i < N * D; i++)
			x[i] = la->xmid[i] + a->dtmp[i];
	}
	rmsnorm_forward(a->hf, a->rf, a->xout, m->w.lnf, N, D, c->eps);
	matmul_forward(a->logits, a->hf, m->w.wout, N, D, V);
	return crossentropy_forward(a->probs, a->logits, targets, N, V, &a->n_valid);
}

const float *fs_rn_logits(const fs_retnet *m) { return m->acts->logits; }

void fs_rn_zero_grad(fs_retnet *m) { memset(m->grads, 0, m->n_params * sizeof(float)); }

void fs_rn_backward(fs_retnet *m)
{
	fs_rn_acts *a = m->acts;
	const fs_retnet_config *c = &m->cfg;
	size_t B = a->b, T = a->t;
	size_t N = B * T, D = c->d_model, F = c->d_ffn, V = c->vocab, H = c->n_heads;
	size_t e = D / H;
	/* dlogits = (p - onehot) / n_valid */
	float inv = a->n_valid > 0 ? 1.0f / a->n_valid : 0.0f;
	for (size_t n = 0; n < N; n++) {
		float *dz = a->dlogits + n * V;
		int tg = a->targets[n];
		for (size_t i = 0; i < V; i++)
			dz[i] = tg == FS_TOK_PAD ? 0.0f : a->probs[n * V + i] * inv;
		if (tg != FS_TOK_PAD)
			dz[tg] -= inv;
	}
	memset(a->dh, 0, N * D * sizeof(float));
	matmul_backward(a->dh, m->g.wout, a->dlogits, a->hf, m->w.wout, N, D, V);
	memset(a->dx, 0, N * D * sizeof(float));
	rmsnorm_backward(a->dx, m->g.lnf, a->dh, a->xout, a->rf, m->w.lnf, N, D);
	/* a->dx now holds d(residual) at the output of the current layer */
	for (int l = (int)c->n_layers - 1; l >= 0; l--) {
		struct fs_rn_layer_acts *la = &a->l[l];
		const fs_rn_layer *W = &m->w.layer[l];
		fs_rn_layer *G = &m->g.layer[l];
		/* FFN: x = xmid + gelu(h2 Wf1) Wf2 */
		memset(a->dact, 0, N * F * sizeof(float));
		matmul_backward(a->dact, G->wf2, a->dx, la->act, W->wf2, N, F, D);
		memset(a->du, 0, N * F * sizeof(float));
		gelu_backward(a->du, a->dact, la->u, N * F);
		memset(a->dh, 0, N * D * sizeof(float));
		matmul_backward(a->dh, G->wf1, a->du, la->h2, W->wf1, N, D, F);
		/* dxmid = dx + rmsnorm backward (dx accumulates in place) */
		rmsnorm_backward(a->dx, G->ln2, a->dh, la->xmid, la->r2, W->ln2, N, D);
		/* retention block: xmid = xin + (swish(g) * GN(o)) Wo */
		memset(a->dy, 0, N * D * sizeof(float));
		matmul_backward(a->dy, G->wo, a->dx, la->y, W->wo, N, D, D);
		memset(a->da, 0, N * 4 * D * sizeof(float));
		memset(a->don, 0, N * D * sizeof(float));
		gate_backward(a->don, a->da + 3 * D, 4 * D, a->dy, la->a + 3 * D, la->on, N, D);
		memset(a->do_, 0, N * D * sizeof(float));
		groupnorm_backward(a->do_, a->don, la->on, la->sinv, N, D, H);
		memset(a->dq, 0, N * D * sizeof(float));
		memset(a->dk, 0, N * D * sizeof(float));
		retention_backward(a->dq, a->dk, a->da + 2 * D, 4 * D, a->do_, la->qr, la->kr,
				   la->a + 2 * D, c->gamma, B, T, D, H);
		rope_backward(a->da, 4 * D, a->dq, a->cosb, a->sinb, B, T, D, e, 1.0f);
		rope_backward(a->da + D, 4 * D, a->dk, a->cosb, a->sinb, B, T, D, e,
			      1.0f / sqrtf((float)e));
		memset(a->dh, 0, N * D * sizeof(float));
		matmul_backward(a->dh, G->w1, a->da, la->h1, W->w1, N, D, 4 * D);
		rmsnorm_backward(a->dx, G->ln1, a->dh, la->xin, la->r1, W->ln1, N, D);
	}
	encoder_backward(m->g.wte, a->dx, a->inputs, N, D);
}

float fs_rn_clip_grad(fs_retnet *m, float max_norm)
{
	double ss = 0.0;
	for (size_t i = 0; i < m->n_params; i++)
		ss += (double)m->grads[i] * m->grads[i];
	float norm = (float)sqrt(ss);
	if (norm > max_norm && norm > 0.0f) {
		float s = max_norm / norm;
		for (size_t i = 0; i < m->n_params; i++)
			m->grads[i] *= s;
	}
	return norm;
}

/* AdamW (Loshchilov & Hutter), as torch.optim.AdamW:
 *   p -= lr * wd * p
 *   m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2
 *   p -= lr * (m / (1-b1^t)) / (sqrt(v / (1-b2^t)) + eps)                          */
void fs_rn_adamw(fs_retnet *m, float lr, float beta1, float beta2, float eps, float wd)
{
	m->adam_t++;
	float bc1 = 1.0f - powf(beta1, (float)m->adam_t);
	float bc2 = 1.0f - powf(beta2, (float)m->adam_t);
	for (size_t i = 0; i < m->n_params; i++) {
		float g = m->grads[i];
		m->m[i] = beta1 * m->m[i] + (1.0f - beta1) * g;
		m->v[i] = beta2 * m->v[i] + (1.0f - beta2) * g * g;
		float p = m->params[i] * (1.0f - lr * wd);
		m->params[i] = p - lr * (m->m[i] / bc1) / (sqrtf(m->v[i] / bc2) + eps);
	}
}

/* ======================================================================== */
/* Recurrent form.                                                           */
/* ======================================================================== */

size_t fs_rn_state_bytes(const fs_retnet *m)
{
	size_t e = m->cfg.d_model / m->cfg.n_heads;
	return sizeof(fs_rn_state) + m->cfg.n_layers * m->cfg.n_heads * e * e * sizeof(float);
}

void fs_rn_state_reset(const fs_retnet *m, fs_rn_state *s)
{
	memset(s, 0, fs_rn_state_bytes(m));
	size_t e = m->cfg.d_model / m->cfg.n_heads;
	s->half = (uint32_t)(e / 2);
	s->n_s = (uint32_t)(m->cfg.n_layers * m->cfg.n_heads * e * e);
	for (size_t i = 0; i < e / 2 && i < FS_RN_MAX_HALF; i++) {
		double theta = pow((double)m->cfg.rope_base, -2.0 * (double)i / (double)e);
		s->pc[i] = 1.0;
		s->ps[i] = 0.0;
		s->rc[i] = cos(theta);
		s->rs[i] = sin(theta);
	}
}

fs_rn_state *fs_rn_state_new(const fs_retnet *m)
{
	fs_rn_state *s = aligned_alloc(64, (fs_rn_state_bytes(m) + 63) & ~(size_t)63);
	if (s)
		fs_rn_state_reset(m, s);
	return s;
}

void fs_rn_state_advance(fs_rn_state *s)
{
	/* (pc + i ps) *= (rc + i rs), renormalised with one Newton step for 1/sqrt(n)
	 * around n = 1 (the norm drifts by ~1e-16 per step, so this keeps it at 1 to
	 * rounding, without a division and a square root per pair) */
	for (size_t i = 0; i < s->half; i++) {
		double nc = s->pc[i] * s->rc[i] - s->ps[i] * s->rs[i];
		double ns = s->pc[i] * s->rs[i] + s->ps[i] * s->rc[i];
		double r = 1.5 - 0.5 * (nc * nc + ns * ns);
		s->pc[i] = nc * r;
		s->ps[i] = ns * r;
	}
	s->pos++;
}

/* Only what changes per step (the constant rotation per step, rc/rs, is the same in
 * every state of a model): a lookahead copies a state on the fault path. */
void fs_rn_state_copy(const fs_retnet *m, fs_rn_state *dst, const fs_rn_state *src)
{
	(void)m;
	dst->pos = src->pos;
	memcpy(dst->pc, src->pc, src->half * sizeof(double));
	memcpy(dst->ps, src->ps, src->half * sizeof(double));
	memcpy(dst->S, src->S, src->n_s * sizeof(float));
}

/* The inference kernels are written as axpy loops over the output dimension (no
 * reductions across lanes), which GCC vectorises without -ffast-math; the step is
 * compiled for AVX-512, AVX2 and baseline x86-64 and picked at load time. */
#pragma GCC push_options
#pragma GCC optimize("O3", "no-trapping-math")

/* out = x W for one row vector.  Output columns are taken in fixed-width blocks whose
 * accumulators the compiler keeps in vector registers across the whole reduction over
 * c (an out[j] += ... loop over a runtime width would load and store out[] on every
 * row: a store-forwarding chain that made the step ~3x slower). */
#define VEC_BLOCK(NB)                                                                  \
	for (; j0 + (NB) <= OC; j0 += (NB)) {                                          \
		float acc[NB];                                                         \
		for (size_t j = 0; j < (NB); j++)                                      \
			acc[j] = 0.0f;                                                 \
		for (size_t c = 0; c < C; c++) {                                       \
			const float xv = x[c];                                         \
			const float *restrict wr = w + c * OC + j0;                    \
			for (size_t j = 0; j < (NB); j++)                              \
				acc[j] += xv * wr[j];                                  \
		}                                                                      \
		for (size_t j = 0; j < (NB); j++)                                      \
			out[j0 + j] = acc[j];                                          \
	}
static inline void vec_matmul(float *restrict out, const float *restrict x,
			      const float *restrict w, size_t C, size_t OC)
{
	size_t j0 = 0;
	VEC_BLOCK(64)
	/* 16 outputs: with one accumulator this is a chain of C dependent FMAs (a quarter
	 * of the step's time); four partial sums over c, in explicit vector registers,
	 * cut the chain to C/4 */
	typedef float v16 __attribute__((vector_size(64)));
	for (; j0 + 16 <= OC; j0 += 16) {
		v16 a0 = { 0 }, a1 = { 0 }, a2 = { 0 }, a3 = { 0 }, wv;
		size_t c = 0;
		for (; c + 4 <= C; c += 4) {
			memcpy(&wv, w + c * OC + j0, sizeof wv);
			a0 += x[c] * wv;
			memcpy(&wv, w + (c + 1) * OC + j0, sizeof wv);
			a1 += x[c + 1] * wv;
			memcpy(&wv, w + (c + 2) * OC + j0, sizeof wv);
			a2 += x[c + 2] * wv;
			memcpy(&wv, w + (c + 3) * OC + j0, sizeof wv);
			a3 += x[c + 3] * wv;
		}
		for (; c < C; c++) {
			memcpy(&wv, w + c * OC + j0, sizeof wv);
			a0 += x[c] * wv;
		}
		a0 = (a0 + a1) + (a2 + a3);
		memcpy(out + j0, &a0, sizeof a0);
	}
	VEC_BLOCK(4)
	for (; j0 < OC; j0++) {
		float a = 0.0f;
		for (size_t c = 0; c < C; c++)
			a += x[c] * w[c * OC + j0];
		out[j0] = a;
	}
}
#undef VEC_BLOCK

static inline void vec_rmsnorm(float *restrict y, const float *restrict x,
			       const float *restrict g, size_t D, float eps)
{
	float s4[4] = { 0.0f, 0.0f, 0.0f, 0.0f }; /* four partial sums: a shorter chain */
	size_t i = 0;
	for (; i + 4 <= D; i += 4)
		for (size_t j = 0; j < 4; j++)
			s4[j] += x[i + j] * x[i + j];
	for (; i < D; i++)
		s4[0] += x[i] * x[i];
	float ss = (s4[0] + s4[1]) + (s4[2] + s4[3]);
	float r = 1.0f / sqrtf(ss / (float)D + eps);
	for (size_t i = 0; i < D; i++)
		y[i] = x[i] * r * g[i];
}

#define fast_expf fs_fast_expf /* model/fastexp.h */

/* One head's state update and readout; inlined with a constant width for the common
 * head width 8, so o[] stays in a register. */
static inline __attribute__((always_inline)) void
retain_head(float *restrict Sh, float *restrict out, const float *restrict q,
	    const float *restrict k, const float *restrict v, float g, size_t e)
{
	float o[64];
	for (size_t j = 0; j < e; j++)
		o[j] = 0.0f;
	for (size_t i = 0; i < e; i++) {
		float *restrict row = Sh + i * e;
		for (size_t j = 0; j < e; j++) {
			row[j] = g * row[j] + k[i] * v[j];
			o[j] += q[i] * row[j];
		}
	}
	for (size_t j = 0; j < e; j++)
		out[j] = o[j];
}

#if defined(__x86_64__) && !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
#define RN_CLONES __attribute__((target_clones("avx512f", "arch=x86-64-v3", "default")))
#else
#define RN_CLONES
#endif

/* Softmax of V logits with the step's fast exp (the policy needs probabilities on the
 * fault path; 16 libm expf calls would cost about as much as a step). */
RN_CLONES
void fs_rn_softmax(const float *z, size_t V, float *p)
{
	float mx = z[0], sum = 0.0f;
	for (size_t v = 1; v < V; v++)
		mx = z[v] > mx ? z[v] : mx;
	for (size_t v = 0; v < V; v++) /* separate from the sum, so it vectorises */
		p[v] = fast_expf(z[v] - mx);
	for (size_t v = 0; v < V; v++)
		sum += p[v];
	float r = 1.0f / sum;
	for (size_t v = 0; v < V; v++)
		p[v] *= r;
}


/* The step's body.  (Inlining it a second time with the default sizes as constants was
 * measured 2.8x slower: 1,110 vs 393 ns/step, docs/MODEL.md.) */
static inline __attribute__((always_inline)) void
step_body(const fs_retnet *m, fs_rn_state *s, int token, float *logits, const size_t D,
	  const size_t F, const size_t V, const size_t H)
{
	const fs_retnet_config *c = &m->cfg;
	const size_t e = D / H;
	const size_t half = e / 2;
	float x[FS_RN_MAX_D], h[FS_RN_MAX_D], a[4 * FS_RN_MAX_D], q[FS_RN_MAX_D],
		k[FS_RN_MAX_D], y[FS_RN_MAX_D], t[FS_RN_MAX_D], u[FS_RN_MAX_F];
	float pc[FS_RN_MAX_HALF], ps[FS_RN_MAX_HALF];
	for (size_t i = 0; i < half; i++) {
		pc[i] = (float)s->pc[i];
		ps[i] = (float)s->ps[i];
	}
	if ((unsigned)token >= V)
		token = FS_TOK_PAD;
	memcpy(x, m->w.wte + (size_t)token * D, D * sizeof(float));
	const float kscale = 1.0f / sqrtf((float)e);
	float *S = s->S;
	for (uint32_t l = 0; l < c->n_layers; l++) {
		const fs_rn_layer *W = &m->w.layer[l];
		vec_rmsnorm(h, x, W->ln1, D, c->eps);
		vec_matmul(a, h, W->w1, D, 4 * D);
		/* rotate q and k (k also scaled by 1/sqrt(e)) */
		for (size_t hd = 0; hd < H; hd++)
			for (size_t i = 0; i < half; i++) {
				size_t j = hd * e + 2 * i;
				float q0 = a[j], q1 = a[j + 1], k0 = a[D + j], k1 = a[D + j + 1];
				q[j] = q0 * pc[i] - q1 * ps[i];
				q[j + 1] = q0 * ps[i] + q1 * pc[i];
				k[j] = (k0 * pc[i] - k1 * ps[i]) * kscale;
				k[j + 1] = (k0 * ps[i] + k1 * pc[i]) * kscale;
			}
		/* S = gamma S + k^T v;  o = q S; then group norm and the swish gate */
		for (size_t hd = 0; hd < H; hd++) {
			float *restrict Sh = S + hd * e * e;
			const float *vh = a + 2 * D + hd * e;
			const float g = c->gamma[hd];
			float *restrict o = t + hd * e;
			if (e == 8)
				retain_head(Sh, o, q + hd * e, k + hd * e, vh, g, 8);
			else
				retain_head(Sh, o, q + hd * e, k + hd * e, vh, g, e);
			float mu = 0.0f, var = 0.0f;
			for (size_t j = 0; j < e; j++)
				mu += o[j];
			mu /= (float)e;
			for (size_t j = 0; j < e; j++)
				var += (o[j] - mu) * (o[j] - mu);
			float sd = 1.0f / sqrtf(var / (float)e + c->eps);
			for (size_t j = 0; j < e; j++)
				y[hd * e + j] = (o[j] - mu) * sd;
		}
		for (size_t i = 0; i < D; i++) {
			float gv = a[3 * D + i];
			y[i] *= gv / (1.0f + fast_expf(-gv));
		}
		vec_matmul(t, y, W->wo, D, D);
		for (size_t i = 0; i < D; i++)
			x[i] += t[i];
		vec_rmsnorm(h, x, W->ln2, D, c->eps);
		vec_matmul(u, h, W->wf1, D, F);
		for (size_t i = 0; i < F; i++) {
			/* tanh(w) = 1 - 2 / (exp(2w) + 1) */
			float z = u[i], w = GELU_C * (z + 0.044715f * z * z * z);
			u[i] = 0.5f * z * (2.0f - 2.0f / (fast_expf(2.0f * w) + 1.0f));
		}
		vec_matmul(t, u, W->wf2, F, D);
		for (size_t i = 0; i < D; i++)
			x[i] += t[i];
		S += H * e * e;
	}
	vec_rmsnorm(h, x, m->w.lnf, D, c->eps);
	vec_matmul(logits, h, m->w.wout, D, V);
	fs_rn_state_advance(s);
}

RN_CLONES
void fs_rn_step(const fs_retnet *m, fs_rn_state *s, int token, float *logits)
{
	const fs_retnet_config *c = &m->cfg;
	step_body(m, s, token, logits, c->d_model, c->d_ffn, c->vocab, c->n_heads);
}

#pragma GCC pop_options
