/*
 * test_retnet_ref.c - the C RetNet computes what the PyTorch reference computes.
 *
 * tests/data/retnet_ref.bin (written by tools/retnet_ref.py, float64 reference) holds
 * a fixed 2-layer model, inputs and targets with pad positions, and the reference
 * logits, loss, gradients of every parameter and parameters after one AdamW step.
 * Each is compared to ~1e-4 relative.
 */
#include "testlib.h"
#include "model/retnet.h"

#include <stdint.h>


static unsigned char *buf;
static size_t len, off;

static int rd(void *dst, size_t n)
{
	if (off + n > len)
		return -1;
	memcpy(dst, buf + off, n);
	off += n;
	return 0;
}

/* max over i of |a-b| / (|b| + floor), floor = 1e-2 * max|b| (so near-zero entries of
 * a large array are judged against the array's scale, not their own) */
static double max_rel_err(const float *a, const float *b, size_t n)
{
	double mx = 0.0, worst = 0.0;
	for (size_t i = 0; i < n; i++)
		mx = fabs(b[i]) > mx ? fabs(b[i]) : mx;
	double floor = 1e-2 * mx + 1e-12;
	for (size_t i = 0; i < n; i++) {
		double e = fabs((double)a[i] - b[i]) / (fabs(b[i]) + floor);
		worst = e > worst ? e : worst;
	}
	return worst;
}

TEST(matches_pytorch_reference)
{
	FILE *f = fopen("tests/data/retnet_ref.bin", "rb");
	CHECK(f != NULL);
	if (!f)
		return;
	buf = malloc(1 << 20);
	len = fread(buf, 1, 1 << 20, f);
	fclose(f);
	char magic[8];
	uint32_t hdr[7], n;
	rd(magic, 8);
	CHECK(!memcmp(magic, "FSRNREF1", 8));
	rd(hdr, sizeof(hdr));
	fs_retnet_config c;
	memset(&c, 0, sizeof(c));
	c.vocab = hdr[0];
	c.d_model = hdr[1];
	c.n_layers = hdr[2];
	c.n_heads = hdr[3];
	c.d_ffn = hdr[4];
	c.seq_len = hdr[5];
	uint32_t B = hdr[6], T = hdr[5];
	rd(c.gamma, c.n_heads * sizeof(float));
	rd(&c.rope_base, 4);
	rd(&c.eps, 4);
	rd(&n, 4);
	fs_retnet *m = NULL;
	CHECK(fs_rn_create(&c, &m) == 0);
	if (!m)
		return;
	CHECK_EQ_U64(m->n_params, n);
	size_t N = (size_t)B * T, V = c.vocab;
	int *in = malloc(N * sizeof(int)), *tg = malloc(N * sizeof(int));
	float *logits = malloc(N * V * sizeof(float)), *grads = malloc(n * sizeof(float));
	float *after = malloc(n * sizeof(float)), loss, hp[5];
	rd(m->params, n * sizeof(float));
	rd(in, N * 4);
	rd(tg, N * 4);
	rd(logits, N * V * 4);
	rd(&loss, 4);
	rd(grads, n * 4);
	rd(hp, sizeof(hp));
	CHECK(rd(after, n * 4) == 0);
	CHECK_EQ_U64(off, len);

	CHECK(fs_rn_train_init(m, B, T) == 0);
	float l = fs_rn_forward(m, in, tg, B, T);
	CHECK_NEAR(l, loss, 1e-4 * fabs(loss));
	double el = max_rel_err(fs_rn_logits(m), logits, N * V);
	printf("  logits max rel err %.2e, loss %.6f vs %.6f\n", el, l, loss);
	CHECK(el < 1e-4);
	fs_rn_zero_grad(m);
	fs_rn_backward(m);
	double eg = max_rel_err(m->grads, grads, n);
	printf("  grads max rel err %.2e\n", eg);
	CHECK(eg < 1e-4);
	/* per-tensor check, so a failure names the layer */
	double ew = max_rel_err(m->g.wte, grads, c.vocab * c.d_model);
	CHECK(ew < 1e-4);
	fs_rn_adamw(m, hp[0], hp[1], hp[2], hp[3], hp[4]);
	double ea = max_rel_err(m->params, after, n);
	printf("  adamw params max rel err %.2e\n", ea);
	CHECK(ea < 1e-4);
	fs_rn_destroy(m);
	free(in);
	free(tg);
	free(logits);
	free(grads);
	free(after);
	free(buf);
}

int main(void)
{
	RUN(matches_pytorch_reference);
	return TEST_EXIT();
}
