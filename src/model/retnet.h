/*
 * retnet.h - a tiny Retentive Network (Sun et al. 2023) in C, in the spirit of llm.c
 * (internal; the math is in retnet.c).
 *
 * One contiguous float buffer holds every parameter (fs_retnet.params, layout in
 * retnet.c); training adds same-sized buffers for gradients and the two AdamW moments,
 * and activations for one batch.  Two forms compute the same function:
 *   - parallel:  fs_rn_forward / fs_rn_backward over B sequences of T tokens (training);
 *   - recurrent: fs_rn_step, one token at a time, constant time per step, with a state
 *     (fs_rn_state) that can be copied (fs_rn_state_copy) to roll a lookahead forward
 *     without disturbing the real one.
 * tests/test_retnet*.c check the parallel form against a PyTorch reference
 * (tools/retnet_ref.py), the gradients against finite differences, and the recurrent
 * form against the parallel one.
 */
#ifndef FS_RETNET_H
#define FS_RETNET_H

#include <stddef.h>
#include <stdint.h>

#define FS_RN_MAX_HEADS 8
#define FS_RN_MAX_D 256
#define FS_RN_MAX_F 1024
#define FS_RN_MAX_V 512
#define FS_RN_MAX_LAYERS 8
#define FS_RN_MAX_T 1024

typedef struct fs_retnet_config {
	uint32_t vocab;    /* V: tokens (tokenizer.h) */
	uint32_t d_model;  /* D: width */
	uint32_t n_layers; /* L */
	uint32_t n_heads;  /* H: retention heads; head width D/H must be even */
	uint32_t d_ffn;    /* F: feed-forward hidden width */
	uint32_t seq_len;  /* T: training sequence length */
	float gamma[FS_RN_MAX_HEADS]; /* per-head decay, 0 < gamma < 1 */
	float rope_base;   /* rotary base (10000 in RoFormer) */
	float eps;         /* RMSNorm / GroupNorm epsilon */
} fs_retnet_config;

/* The project's default sizes for a vocabulary of V tokens: D=16, L=1, H=2, F=32,
 * T=64, gamma = 0.75, 0.9375 (about 2.9K parameters at V=16). */
void fs_rn_default_config(fs_retnet_config *c, uint32_t vocab);
/* FS_EINVAL with a sentence naming the bad field. */
int fs_rn_config_check(const fs_retnet_config *c, char *err, size_t errlen);
size_t fs_rn_num_params(const fs_retnet_config *c);

/* Pointers into the parameter (or gradient) buffer, per layer. */
typedef struct fs_rn_layer {
	float *ln1; /* D     RMSNorm gain before retention */
	float *w1;  /* D x 4D  [q | k | v | g] projections, y = x W */
	float *wo;  /* D x D   retention output projection */
	float *ln2; /* D     RMSNorm gain before the FFN */
	float *wf1; /* D x F */
	float *wf2; /* F x D */
} fs_rn_layer;

typedef struct fs_rn_weights {
	float *wte; /* V x D token embedding */
	fs_rn_layer layer[FS_RN_MAX_LAYERS];
	float *lnf;  /* D final RMSNorm gain */
	float *wout; /* D x V output head */
} fs_rn_weights;

typedef struct fs_rn_acts fs_rn_acts;

typedef struct fs_retnet {
	fs_retnet_config cfg;
	size_t n_params;
	float *params;
	fs_rn_weights w;
	/* training only (NULL until fs_rn_train_init) */
	float *grads, *m, *v;
	fs_rn_weights g;
	uint64_t adam_t;
	fs_rn_acts *acts;
} fs_retnet;

/* Allocate a model with zeroed parameters. */
int fs_rn_create(const fs_retnet_config *c, fs_retnet **out);
void fs_rn_destroy(fs_retnet *m);
/* Deterministic random initialisation from seed (scaled normal, gains 1). */
void fs_rn_init_weights(fs_retnet *m, uint64_t seed);

/* ---- parallel form (training) ---- */
/* Allocate gradients, AdamW moments and activations for batches of B x T. */
int fs_rn_train_init(fs_retnet *m, uint32_t B, uint32_t T);
/* Forward over B sequences of T tokens (inputs[b*T+t]).  targets may be NULL; a
 * target of FS_TOK_PAD (0) is ignored.  Returns the mean cross-entropy over the
 * counted targets (0 if none); logits of the batch via fs_rn_logits(). */
float fs_rn_forward(fs_retnet *m, const int *inputs, const int *targets, uint32_t B,
		    uint32_t T);
const float *fs_rn_logits(const fs_retnet *m); /* (B*T) x V, of the last forward */
/* Gradients of the last forward's loss, accumulated into m->grads. */
void fs_rn_backward(fs_retnet *m);
void fs_rn_zero_grad(fs_retnet *m);
/* Scale gradients so their global L2 norm is at most max_norm; returns the norm. */
float fs_rn_clip_grad(fs_retnet *m, float max_norm);
/* One AdamW step (decoupled weight decay on every parameter, as torch.optim.AdamW). */
void fs_rn_adamw(fs_retnet *m, float lr, float beta1, float beta2, float eps, float wd);

/* ---- recurrent form (inference) ---- */
/* A thread's recurrent state.  Its layout is shared with the fused kernels
 * (kernels.c); a state is stepped by one implementation only (fs_rn_step, or one
 * packed kernel: their S layouts differ). */
#define FS_RN_MAX_HALF 32 /* rotation pairs per head: head width <= 64 */
typedef struct fs_rn_state {
	uint64_t pos;
	uint32_t half; /* rotation pairs per head, e/2 */
	uint32_t n_s;  /* floats in S */
	double rc[FS_RN_MAX_HALF], rs[FS_RN_MAX_HALF]; /* cos, sin of theta_i (one step) */
	double pc[FS_RN_MAX_HALF], ps[FS_RN_MAX_HALF]; /* cos, sin of pos * theta_i */
	float S[] __attribute__((aligned(64)));        /* L x H x e x e */
} fs_rn_state;
size_t fs_rn_state_bytes(const fs_retnet *m);
/* malloc'd, reset; free with free(). */
fs_rn_state *fs_rn_state_new(const fs_retnet *m);
void fs_rn_state_reset(const fs_retnet *m, fs_rn_state *s);
void fs_rn_state_copy(const fs_retnet *m, fs_rn_state *dst, const fs_rn_state *src);
/* Advance the state's rotation by one position (the end of every step). */
void fs_rn_state_advance(fs_rn_state *s);
/* Feed one token, advance the state, write V logits for the next token. */
void fs_rn_step(const fs_retnet *m, fs_rn_state *s, int token, float *logits);
/* p = softmax(z) over V entries (fast exp, about 1 ulp). */
void fs_rn_softmax(const float *z, size_t V, float *p);

#endif
