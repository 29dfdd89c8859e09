/*
 * kernels.h - packed inference weights and the step kernels that run them (internal).
 *
 * The predictor runs a recurrent step per event plus one per lookahead step, on the
 * fault path, so the step is written for the one shape that ships (D=16, 1 layer, 2
 * heads of width 8, F=32, V <= 16: `fused` shape) as fused, fixed-size kernels:
 *
 *   avx512   one zmm register is a whole 16-wide activation; AVX-512F/VL/DQ
 *   avx2     two ymm registers per activation; AVX2 + FMA
 *   portable the same fused algorithm in plain C, for any x86-64 or other CPU
 *   generic  fs_rn_step (retnet.c), for every other shape
 *
 * picked at run time from what the CPU has (__builtin_cpu_supports), or forced.
 *
 * What "fused" means (the algebra, exact up to float rounding):
 *   - layer 0's [q k v g] = RMSNorm(wte[t]) * ln1 W1 depends on the token only: it is a
 *     V x 4D table computed when packing (k already scaled by 1/sqrt(e));
 *   - RMSNorm gains are folded into the next matrix (diag(ln2) Wf1, diag(lnf) Wout),
 *     and the scalar 1/rms is applied to the matrix product, so the product does not
 *     wait for the norm's reduction;
 *   - the two heads' 8x8 states are interleaved row by row (S[i][head][j]), so row i
 *     of both heads is one 16-wide vector, and the softmax is computed in the kernel.
 *
 * A packed set is a self-contained snapshot of the weights (it copies what it needs),
 * so online adaptation can build a new one off the fault path and hand it over.
 */
#ifndef FS_KERNELS_H
#define FS_KERNELS_H

#include "model/retnet.h"

enum {
	FS_RN_K_AUTO = 0,     /* the fastest the CPU has for the shape */
	FS_RN_K_GENERIC = 1,  /* fs_rn_step on a private copy of the net */
	FS_RN_K_PORTABLE = 2, /* fused, plain C */
	FS_RN_K_AVX2 = 3,     /* fused, AVX2 + FMA */
	FS_RN_K_AVX512 = 4,   /* fused, AVX-512 */
	FS_RN_K_COUNT
};

typedef struct fs_rn_packed fs_rn_packed;
typedef void (*fs_rn_kstep_fn)(const fs_rn_packed *pk, fs_rn_state *s, int token,
			       float *logits, float *probs);

struct fs_rn_packed {
	int kernel;          /* FS_RN_K_* in use (never AUTO) */
	fs_rn_kstep_fn step; /* that kernel */
	uint32_t vocab;
	fs_retnet *net;      /* generic: a private copy of the net; else NULL */
	/* fused layout (64-byte aligned, NULL for generic) */
	float *qkvg;         /* V x 64: layer 0's q | k/sqrt(e) | v | g per token */
	float *wte;          /* V x 16: the residual stream's start */
	float *wo;           /* 16 x 16 */
	float *wf1;          /* 16 x 32, rows scaled by ln2 */
	float *wf2;          /* 32 x 16 */
	float *wout;         /* 16 x 16, rows scaled by lnf, columns >= V zero */
	float gamma[16];     /* per lane: head 0 in lanes 0-7, head 1 in 8-15 */
	float eps;
	void *mem;           /* one allocation behind the fused arrays */
};

/* Does the CPU have what kernel k needs, and does the net's shape allow it? */
int fs_rn_kernel_ok(const fs_retnet *net, int kernel);
/* Pack net's current weights for kernel (FS_RN_K_AUTO: the best available).
 * FS_EINVAL if the kernel cannot run this shape on this CPU, FS_ENOMEM. */
int fs_rn_pack(const fs_retnet *net, int kernel, fs_rn_packed **out);
void fs_rn_packed_free(fs_rn_packed *pk);
const char *fs_rn_kernel_name(int kernel);
int fs_rn_kernel_parse(const char *name); /* -1 if unknown */

/* One recurrent step with packed weights: feed token, advance s (a state of the same
 * net, stepped only by this kernel), write the V probabilities (softmax) to probs and,
 * unless logits is NULL, the V logits. */
static inline void fs_rn_kstep(const fs_rn_packed *pk, fs_rn_state *s, int token,
			       float *logits, float *probs)
{
	pk->step(pk, s, token, logits, probs);
}

#endif
